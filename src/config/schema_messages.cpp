#include "schema_messages.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <compare>
#include <string_view>
#include <valijson/validation_results.hpp>

#include "abliterate/config/suggest.hpp"

namespace abliterate::config {

using nlohmann::json;

namespace {

// The bounds describe_expected puts into words.
constexpr std::array<std::string_view, 6> kBoundKeywords = {"minimum",          "maximum",   "exclusiveMinimum",
                                                            "exclusiveMaximum", "minLength", "minItems"};

std::string child_path(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

// A JSON type in words, one and many: "an integer", "integers".
struct TypeWords {
  std::string_view type, noun, plural;
};
constexpr std::array<TypeWords, 7> kTypeWords = {{{"integer", "an integer", "integers"},
                                                  {"number", "a number", "numbers"},
                                                  {"string", "a string", "strings"},
                                                  {"boolean", "true or false", "booleans"},
                                                  {"array", "a list", "lists"},
                                                  {"object", "a mapping", "mappings"},
                                                  {"null", "null", "nulls"}}};

const TypeWords* type_words(const json& type) {
  for (const TypeWords& words : kTypeWords) {
    if (type.is_string() && type.get<std::string>() == words.type) return &words;
  }
  return nullptr;
}

std::string enum_list(const json& values) {
  std::string out;
  for (const json& v : values) {
    if (!out.empty()) out += ", ";
    out += v.is_string() ? v.get<std::string>() : v.dump();
  }
  return out;
}

// "an integer >= 1", "a number in [0, 1]", "a non-empty list of strings",
// "one of auto, cpu, cuda": what a schema node accepts, in words.
std::string describe_expected(const json& schema) {
  if (schema.contains("enum")) return "one of " + enum_list(schema["enum"]);
  std::string noun;
  const json type = schema.value("type", json());
  if (type.is_string()) {
    const std::string t = type.get<std::string>();
    noun = type_words(type)->noun;
    if (t == "string" && schema.value("minLength", 0) == 1) noun = "a non-empty string";
    if (t == "string" && schema.value("minLength", 0) > 1) {
      noun = fmt::format("a string of at least {} characters", schema["minLength"].get<int64_t>());
    }
    if (t == "array") {
      if (schema.value("minItems", 0) >= 1) {
        noun = schema["minItems"] == 1 ? "a non-empty list"
                                       : fmt::format("a list of at least {} items", schema["minItems"].get<int64_t>());
      }
      const json& items = schema.contains("items") ? schema["items"] : json();
      if (items.is_object() && items.contains("type") && items["type"].is_string()) {
        noun += " of " + std::string(type_words(items["type"])->plural);
      }
    }
  } else if (type.is_array()) {
    for (const json& t : type) {
      if (!noun.empty()) noun += " or ";
      noun += type_words(t)->noun;
    }
  } else {
    noun = "a value";
  }
  const bool has_min = schema.contains("minimum");
  const bool has_xmin = schema.contains("exclusiveMinimum");
  const bool has_max = schema.contains("maximum");
  const bool has_xmax = schema.contains("exclusiveMaximum");
  if ((has_min || has_xmin) && (has_max || has_xmax)) {
    return fmt::format("{} in {}{}, {}{}", noun, has_min ? "[" : "(",
                       (has_min ? schema["minimum"] : schema["exclusiveMinimum"]).dump(),
                       (has_max ? schema["maximum"] : schema["exclusiveMaximum"]).dump(), has_max ? "]" : ")");
  }
  if (has_min) return fmt::format("{} >= {}", noun, schema["minimum"].dump());
  if (has_xmin) return fmt::format("{} > {}", noun, schema["exclusiveMinimum"].dump());
  if (has_max) return fmt::format("{} <= {}", noun, schema["maximum"].dump());
  if (has_xmax) return fmt::format("{} < {}", noun, schema["exclusiveMaximum"].dump());
  return noun;
}

std::string with_hint(std::string message, const json& schema) {
  if (schema.contains("x-hint")) message += fmt::format(" ({})", schema["x-hint"].get<std::string>());
  return message;
}

// What a valijson error says, sorted by how we word it. valijson 1.0 reports an
// error as an instance path ("context") and an English description, with no
// kind, so the kind is read from the description's opening words
// (json_schema_test pins each one we rely on).
enum class Kind {
  kType,        // "Value type not permitted by 'type' constraint."
  kNonFinite,   // ours: .inf or .nan where the schema names a type (below)
  kEnum,        // "Failed to match against any enum values."
  kBound,       // minimum, maximum, exclusive*, minLength, minItems
  kRequired,    // "Missing required property 'KEY'."; detail: KEY
  kUnknownKey,  // additionalProperties: false; valijson names only the first such key
  kParent,      // "failed to validate property/item X": the errors under X say why
  kOther,       // any other keyword: worded from valijson's description
};

struct Finding {
  std::vector<std::string> context;  // valijson's: "<root>", "[good_prompts]", "[split]" / "[1]"
  Kind kind;
  std::string detail;  // the description, or the missing key for kRequired
};

bool starts_with(std::string_view text, std::string_view prefix) { return text.substr(0, prefix.size()) == prefix; }

// The text between the first "'" after `prefix` and the final "'" of "'...'.".
std::string quoted_name(const std::string& description, std::string_view prefix) {
  const std::size_t begin = prefix.size();
  const std::size_t end = description.rfind('\'');
  return end > begin ? description.substr(begin, end - begin) : std::string();
}

Finding classify(const valijson::ValidationResults::Error& error) {
  constexpr std::string_view kRequiredPrefix = "Missing required property '";
  constexpr std::string_view kPropertyParent = "Failed to validate against schema associated with property name '";
  constexpr std::string_view kItemParent = "Failed to validate item #";
  const std::string& d = error.description;
  Finding f{error.context, Kind::kOther, d};
  if (starts_with(d, "Value type not permitted")) {
    f.kind = Kind::kType;
  } else if (starts_with(d, "Failed to match against any enum values")) {
    f.kind = Kind::kEnum;
  } else if (starts_with(d, "Expected number greater than") || starts_with(d, "Expected number less than") ||
             starts_with(d, "String should be no fewer than") || starts_with(d, "Array should contain no fewer than")) {
    f.kind = Kind::kBound;
  } else if (starts_with(d, kRequiredPrefix)) {
    f = {error.context, Kind::kRequired, quoted_name(d, kRequiredPrefix)};
  } else if (starts_with(d, "Object contains a property that could not be validated")) {
    f.kind = Kind::kUnknownKey;
  } else if (starts_with(d, kPropertyParent)) {
    f.kind = Kind::kParent;
    f.context.push_back("[" + quoted_name(d, kPropertyParent) + "]");
  } else if (starts_with(d, kItemParent) || starts_with(d, "Failed to validate against additional properties") ||
             starts_with(d, "Failed to validate against schema associated with pattern") ||
             starts_with(d, "Failed to validate against child schema #")) {  // one branch of allOf, anyOf, ...
    f.kind = Kind::kParent;
    // "... item #N in array." is reported at the array, "... against corresponding item schema." at the item.
    if (d.ends_with(" in array.")) {
      const std::size_t digits = kItemParent.size();
      f.context.push_back("[" + d.substr(digits, d.find(' ', digits) - digits) + "]");
    }
  }
  return f;
}

// JSON has no infinities or NaN, so JSON Schema (and valijson) has no rule for
// them; YAML has (.inf, .nan). They count as a value of no JSON type: wherever
// the schema names a type, they have the wrong one.
void find_non_finite(const json& value, std::vector<std::string>& context, std::vector<Finding>& out) {
  if (value.is_number_float() && !std::isfinite(value.get<double>())) {
    out.push_back({context, Kind::kNonFinite, "Value type not permitted by 'type' constraint."});
  } else if (value.is_structured()) {
    for (const auto& [key, v] : value.items()) {  // an array's keys are its indexes: "0", "1", ...
      context.push_back("[" + key + "]");
      find_non_finite(v, context, out);
      context.pop_back();
    }
  }
}

// One step of a place in the document, for sorting: an object's missing
// required keys (rank 0, in "required" order) before its keys (rank 1, by
// name), an array's items by index.
struct Step {
  int rank;
  std::size_t index;
  std::string key;
  auto operator<=>(const Step&) const = default;
};

// A place in the document and the schema node that applies to it.
struct Location {
  std::string path;               // "good_prompts.split", "dtypes[1]"
  std::vector<Step> order;        // sorts violations into document order
  const json* value;              // in the document as given
  const json* schema;             // $refs followed; null where no schema object applies (or we cannot tell)
  std::vector<const json*> refs;  // the $ref nodes passed on the way, outermost first: their x-hint applies below
};

// A violation with what sorts and filters it.
struct Worded {
  std::vector<Step> order;
  Kind kind;
  SchemaViolation violation;
};

const json* follow_refs(const json& root, const json* node, std::vector<const json*>& refs) {
  // Every $ref was resolved, and every loop of them refused, when the schema was loaded.
  while (node != nullptr && node->is_object() && node->contains("$ref")) {
    refs.push_back(node);
    node = &root.at(json::json_pointer((*node)["$ref"].get<std::string>().substr(1)));
  }
  return node;
}

const json* property_schema(const json& node, const std::string& key) {
  if (const auto p = node.find("properties"); p != node.end() && p->contains(key)) return &(*p)[key];
  if (const auto a = node.find("additionalProperties"); a != node.end() && a->is_object()) return &*a;
  return nullptr;  // patternProperties: valijson's own words
}

const json* item_schema(const json& node, std::size_t index) {
  const auto items = node.find("items");
  if (items == node.end()) return nullptr;
  if (!items->is_array()) return &*items;
  if (index < items->size()) return &(*items)[index];
  const auto more = node.find("additionalItems");
  return more != node.end() ? &*more : nullptr;
}

// Where valijson's context points, in the document and in the schema.
Location locate(const json& root, const std::vector<std::string>& context, const json& instance) {
  Location at{"", {}, &instance, nullptr, {}};
  const json* node = follow_refs(root, &root, at.refs);
  for (std::size_t i = 1; i < context.size(); ++i) {                       // context[0] is "<root>"
    const std::string name = context[i].substr(1, context[i].size() - 2);  // "[name]"
    if (node != nullptr && !node->is_object()) node = nullptr;             // true or false: nothing to follow
    if (at.value->is_array()) {
      const std::size_t index = std::stoul(name);
      at.value = &at.value->at(index);
      at.path += fmt::format("[{}]", index);
      at.order.push_back({1, index, ""});
      node = node != nullptr ? item_schema(*node, index) : nullptr;
    } else {
      at.value = &at.value->at(name);
      at.path = child_path(at.path, name);
      at.order.push_back({1, 0, name});
      node = node != nullptr ? property_schema(*node, name) : nullptr;
    }
    node = follow_refs(root, node, at.refs);
  }
  at.schema = node != nullptr && node->is_object() ? node : nullptr;
  return at;
}

// Adds the x-hints of the $ref nodes above, innermost first, as the validator we replaced did.
std::string with_ref_hints(std::string message, const Location& at) {
  for (auto ref = at.refs.rbegin(); ref != at.refs.rend(); ++ref) message = with_hint(std::move(message), **ref);
  return message;
}

// "unknown key" for every key the schema at `at` does not allow (valijson names only the first one).
void word_unknown_keys(const Location& at, std::vector<Worded>& out) {
  const json& schema = *at.schema;
  const json properties = schema.value("properties", json::object());
  std::vector<std::string> known;
  for (const auto& [name, sub] : properties.items()) known.push_back(name);
  for (const auto& [key, value] : at.value->items()) {
    if (properties.contains(key)) continue;
    std::string suggestion = did_you_mean(key, known);
    if (suggestion.empty()) {
      std::string all;
      for (const std::string& k : known) all += (all.empty() ? "" : ", ") + k;
      suggestion = "; valid keys here: " + all;
    }
    std::vector<Step> order = at.order;
    order.push_back({1, 0, key});
    out.push_back(
        {order, Kind::kUnknownKey, {child_path(at.path, key), with_ref_hints("unknown key" + suggestion, at)}});
  }
}

// Our message for one finding, worded from the schema node at its place; valijson's own description where that
// node does not carry the keyword that failed (it came from allOf, anyOf, ...) or where we have no words for it.
void word(const json& root, const Finding& finding, const json& instance, std::vector<Worded>& out) {
  const Location at = locate(root, finding.context, instance);
  const json* node = at.schema;
  auto add = [&](Kind kind, std::string message) {
    if (node != nullptr) message = with_hint(std::move(message), *node);
    out.push_back({at.order, kind, {at.path, with_ref_hints(std::move(message), at)}});
  };
  auto expected = [&] {
    return fmt::format("expected {}, got {}", describe_expected(*node), describe_value(*at.value));
  };
  switch (finding.kind) {
    case Kind::kRequired: {
      std::size_t index = 0;
      const json required = node != nullptr ? node->value("required", json::array()) : json::array();
      while (index < required.size() && required[index] != finding.detail) ++index;
      std::vector<Step> order = at.order;
      order.push_back({0, index, finding.detail});
      out.push_back(
          {order, Kind::kRequired, {child_path(at.path, finding.detail), with_ref_hints("missing required key", at)}});
      return;
    }
    case Kind::kUnknownKey:
      // With patternProperties, which keys are unknown is valijson's to say.
      if (node != nullptr && node->value("additionalProperties", json(true)) == false &&
          !node->contains("patternProperties")) {
        return word_unknown_keys(at, out);
      }
      break;
    case Kind::kType:
    case Kind::kNonFinite:
      if (node != nullptr && node->contains("type")) return add(Kind::kType, expected());
      if (finding.kind == Kind::kNonFinite) return;  // no type asked for: any value goes
      break;
    case Kind::kEnum:
      if (node != nullptr && node->contains("enum")) {
        std::string message =
            fmt::format("expected one of {}; got {}", enum_list((*node)["enum"]), describe_value(*at.value));
        if (at.value->is_string()) {
          std::vector<std::string> names;
          for (const json& allowed : (*node)["enum"]) {
            if (allowed.is_string()) names.push_back(allowed.get<std::string>());
          }
          message += did_you_mean(at.value->get<std::string>(), names);
        }
        return add(Kind::kEnum, std::move(message));
      }
      break;
    case Kind::kBound:
      if (node != nullptr && std::any_of(kBoundKeywords.begin(), kBoundKeywords.end(),
                                         [&](std::string_view k) { return node->contains(std::string(k)); })) {
        return add(Kind::kBound, expected());
      }
      break;
    case Kind::kParent:  // left only where nothing under it failed: a false subschema
      return add(Kind::kOther, "not allowed here, got " + describe_value(*at.value));
    case Kind::kOther:
      break;
  }
  // "Failed to match regex specified by 'pattern' constraint." -> "failed to match ... constraint, got "x""
  std::string text = finding.detail;
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  if (text.ends_with('.')) text.pop_back();
  add(Kind::kOther, fmt::format("{}, got {}", text, describe_value(*at.value)));
}

bool is_prefix(const std::vector<std::string>& prefix, const std::vector<std::string>& of) {
  return prefix.size() <= of.size() && std::equal(prefix.begin(), prefix.end(), of.begin());
}

}  // namespace

std::vector<SchemaViolation> word_violations(const json& schema, const json& instance,
                                             const valijson::ValidationResults& results) {
  std::vector<Finding> findings;
  for (const valijson::ValidationResults::Error& error : results) findings.push_back(classify(error));
  std::vector<std::string> root = {"<root>"};
  find_non_finite(instance, root, findings);
  // A parent's "failed to validate X" repeats what the errors under X say. It stays only where nothing under X
  // says anything: a false subschema fails without an error of its own.
  std::vector<Worded> worded;
  for (const Finding& finding : findings) {
    const bool repeats_below =
        finding.kind == Kind::kParent && std::any_of(findings.begin(), findings.end(), [&](const Finding& f) {
          return f.kind != Kind::kParent && is_prefix(finding.context, f.context);
        });
    if (!repeats_below) word(schema, finding, instance, worded);
  }
  // A value of the wrong type reports only that, a value outside an enum only that (as the validator we replaced
  // did); and each message once (valijson and find_non_finite may agree).
  auto precedence = [](Kind kind) { return kind == Kind::kType ? 2 : kind == Kind::kEnum ? 1 : 0; };
  std::vector<SchemaViolation> out;
  std::stable_sort(worded.begin(), worded.end(), [](const Worded& a, const Worded& b) { return a.order < b.order; });
  for (const Worded& w : worded) {
    const bool own = w.kind != Kind::kRequired && w.kind != Kind::kUnknownKey;
    const bool outranked = own && std::any_of(worded.begin(), worded.end(), [&](const Worded& t) {
                             return t.violation.path == w.violation.path && precedence(t.kind) > precedence(w.kind);
                           });
    const bool repeated = std::any_of(out.begin(), out.end(), [&](const SchemaViolation& v) {
      return v.path == w.violation.path && v.message == w.violation.message;
    });
    if (!outranked && !repeated) out.push_back(w.violation);
  }
  return out;
}

}  // namespace abliterate::config
