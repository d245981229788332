#include "abliterate/config/json_schema.hpp"

#include <fmt/format.h>

#include <array>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string_view>

#include "abliterate/common/error.hpp"
#include "abliterate/config/suggest.hpp"

namespace abliterate::config {

using nlohmann::json;

namespace {

// Nesting deeper than this in a schema ($ref chains included) or a document is
// refused rather than recursed into: a cyclic $ref must not overflow the stack.
constexpr int kMaxDepth = 64;

// Values longer than this are cut short in messages.
constexpr std::size_t kMaxShownValue = 60;

constexpr std::array<std::string_view, 18> kSupportedKeywords = {
    "type",
    "properties",
    "required",
    "additionalProperties",
    "enum",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "items",
    "minItems",
    "$ref",
    "$defs",
    "description",
    "default",
    "title",
    "x-hint",
};
// Allowed only at the root.
constexpr std::array<std::string_view, 2> kRootKeywords = {"$schema", "$id"};

constexpr std::array<std::string_view, 7> kTypeNames = {"null",   "boolean", "object", "array",
                                                        "number", "integer", "string"};

template <std::size_t N>
bool contains(const std::array<std::string_view, N>& names, std::string_view name) {
  for (std::string_view n : names) {
    if (n == name) return true;
  }
  return false;
}

std::string child_path(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

bool is_finite_number(const json& v) {
  return v.is_number() && (!v.is_number_float() || std::isfinite(v.get<double>()));
}

bool matches_type(const json& v, std::string_view type) {
  if (type == "null") return v.is_null();
  if (type == "boolean") return v.is_boolean();
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "string") return v.is_string();
  if (type == "number") return is_finite_number(v);
  if (type == "integer") {
    // JSON Schema counts 3.0 as an integer: a number with no fractional part.
    if (v.is_number_integer()) return true;
    if (!is_finite_number(v)) return false;
    const double d = v.get<double>();
    return std::trunc(d) == d;
  }
  return false;
}

bool matches_any_type(const json& v, const json& type) {
  if (type.is_string()) return matches_type(v, type.get<std::string>());
  for (const json& t : type) {
    if (matches_type(v, t.get<std::string>())) return true;
  }
  return false;
}

// Exact for every int64 and uint64 (x86-64 long double has a 64-bit mantissa).
long double as_long_double(const json& v) {
  if (v.is_number_unsigned()) return static_cast<long double>(v.get<uint64_t>());
  if (v.is_number_integer()) return static_cast<long double>(v.get<int64_t>());
  return static_cast<long double>(v.get<double>());
}

std::size_t utf8_length(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0u) != 0x80u) ++n;  // count every byte that starts a code point
  }
  return n;
}

std::string noun_for_type(std::string_view type) {
  if (type == "integer") return "an integer";
  if (type == "number") return "a number";
  if (type == "string") return "a string";
  if (type == "boolean") return "true or false";
  if (type == "array") return "a list";
  if (type == "object") return "a mapping";
  return "null";
}

std::string plural_noun_for_type(std::string_view type) {
  if (type == "integer") return "integers";
  if (type == "number") return "numbers";
  if (type == "string") return "strings";
  if (type == "boolean") return "booleans";
  if (type == "array") return "lists";
  if (type == "object") return "mappings";
  return "nulls";
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
    noun = noun_for_type(t);
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
        noun += " of " + plural_noun_for_type(items["type"].get<std::string>());
      }
    }
  } else if (type.is_array()) {
    for (const json& t : type) {
      if (!noun.empty()) noun += " or ";
      noun += noun_for_type(t.get<std::string>());
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

}  // namespace

std::string describe_value(const json& value) {
  if (value.is_null()) return "no value";
  if (value.is_number_float()) {
    const double d = value.get<double>();
    if (std::isnan(d)) return ".nan";
    if (std::isinf(d)) return d > 0 ? ".inf" : "-.inf";
  }
  std::string text = value.dump();
  if (text.size() > kMaxShownValue) {
    // Cut on a code-point boundary so the message stays valid UTF-8.
    std::size_t cut = kMaxShownValue;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0u) == 0x80u) --cut;
    text = text.substr(0, cut) + "...";
  }
  return text;
}

std::string format_violations(const std::string& file, const std::vector<SchemaViolation>& violations) {
  std::string out;
  for (const SchemaViolation& v : violations) {
    if (!out.empty()) out += '\n';
    out += v.path.empty() ? fmt::format("{}: {}", file, v.message) : fmt::format("{}: {}: {}", file, v.path, v.message);
  }
  return out;
}

JsonSchema JsonSchema::load(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  ABL_CHECK(in, IoError, "{}: cannot open the schema (set ABLITERATE_SCHEMA_DIR to the folder holding it)",
            path.string());
  std::ostringstream text;
  text << in.rdbuf();
  ABL_CHECK(!in.bad(), IoError, "{}: cannot read the schema", path.string());
  json schema;
  try {
    schema = json::parse(text.str());
  } catch (const json::parse_error& e) {
    throw FormatError(fmt::format("{}: not valid JSON: {}", path.string(), e.what()));
  }
  return JsonSchema(std::move(schema), path.string());
}

JsonSchema::JsonSchema(json schema, std::string name) : schema_(std::move(schema)), name_(std::move(name)) {
  ABL_CHECK(schema_.is_object(), FormatError, "{}: a schema must be a JSON object, got {}", name_,
            describe_value(schema_));
  check_supported(schema_, "", 0);
}

void JsonSchema::check_supported(const json& node, const std::string& pointer, int depth) const {
  const std::string where = pointer.empty() ? "/" : pointer;
  ABL_CHECK(depth < kMaxDepth, FormatError, "{}: {}: nested deeper than {} levels", name_, where, kMaxDepth);
  ABL_CHECK(node.is_object(), FormatError, "{}: {}: expected a schema object, got {}", name_, where,
            describe_value(node));
  for (const auto& [key, value] : node.items()) {
    const bool supported = contains(kSupportedKeywords, key) || (depth == 0 && contains(kRootKeywords, key));
    ABL_CHECK(supported, FormatError,
              "{}: {}: unsupported keyword \"{}\" (this validator knows only the subset in "
              "json_schema.hpp)",
              name_, where, key);
    const std::string at = pointer + "/" + key;
    if (key == "type") {
      const bool ok = (value.is_string() && contains(kTypeNames, value.get<std::string>())) ||
                      (value.is_array() && !value.empty() && [&] {
                        for (const json& t : value) {
                          if (!t.is_string() || !contains(kTypeNames, t.get<std::string>())) return false;
                        }
                        return true;
                      }());
      ABL_CHECK(ok, FormatError, "{}: {}: expected a JSON type name or a list of them, got {}", name_, at,
                describe_value(value));
    } else if (key == "properties" || key == "$defs") {
      ABL_CHECK(value.is_object(), FormatError, "{}: {}: expected an object, got {}", name_, at, describe_value(value));
      for (const auto& [name, sub] : value.items()) check_supported(sub, at + "/" + name, depth + 1);
    } else if (key == "items") {
      check_supported(value, at, depth + 1);
    } else if (key == "required") {
      bool ok = value.is_array();
      for (const json& r : value) ok = ok && r.is_string();
      ABL_CHECK(ok, FormatError, "{}: {}: expected a list of key names, got {}", name_, at, describe_value(value));
    } else if (key == "additionalProperties") {
      ABL_CHECK(value.is_boolean(), FormatError, "{}: {}: only true or false is supported, got {}", name_, at,
                describe_value(value));
    } else if (key == "enum") {
      ABL_CHECK(value.is_array() && !value.empty(), FormatError, "{}: {}: expected a non-empty list, got {}", name_, at,
                describe_value(value));
    } else if (key == "minimum" || key == "maximum" || key == "exclusiveMinimum" || key == "exclusiveMaximum") {
      ABL_CHECK(is_finite_number(value), FormatError, "{}: {}: expected a number, got {}", name_, at,
                describe_value(value));
    } else if (key == "minLength" || key == "minItems") {
      ABL_CHECK(value.is_number_integer() && value.get<int64_t>() >= 0, FormatError,
                "{}: {}: expected an integer >= 0, got {}", name_, at, describe_value(value));
    } else if (key == "$ref") {
      ABL_CHECK(value.is_string(), FormatError, "{}: {}: expected a string, got {}", name_, at, describe_value(value));
      resolve_ref(value.get<std::string>());
    } else if (key == "x-hint" || key == "description" || key == "title") {
      ABL_CHECK(value.is_string(), FormatError, "{}: {}: expected a string, got {}", name_, at, describe_value(value));
    }
  }
}

const json& JsonSchema::resolve_ref(const std::string& ref) const {
  // Only references into this document: "#" followed by a JSON pointer.
  ABL_CHECK(ref.size() >= 1 && ref[0] == '#', FormatError,
            "{}: $ref \"{}\": only references inside the schema (\"#/...\") are supported", name_, ref);
  try {
    const json::json_pointer pointer(ref.substr(1));
    ABL_CHECK(schema_.contains(pointer), FormatError, "{}: $ref \"{}\" points at nothing", name_, ref);
    return schema_.at(pointer);
  } catch (const json::exception& e) {
    throw FormatError(fmt::format("{}: $ref \"{}\": {}", name_, ref, e.what()));
  }
}

std::vector<SchemaViolation> JsonSchema::validate(const json& instance) const {
  std::vector<SchemaViolation> out;
  validate_node(schema_, instance, "", 0, out);
  return out;
}

void JsonSchema::validate_node(const json& schema, const json& instance, const std::string& path, int depth,
                               std::vector<SchemaViolation>& out) const {
  if (depth >= kMaxDepth) {
    out.push_back({path, fmt::format("nested deeper than {} levels", kMaxDepth)});
    return;
  }
  if (schema.contains("$ref")) {
    const std::size_t before = out.size();
    validate_node(resolve_ref(schema["$ref"].get<std::string>()), instance, path, depth + 1, out);
    if (out.size() != before && schema.contains("x-hint")) {
      for (std::size_t i = before; i < out.size(); ++i) out[i].message = with_hint(out[i].message, schema);
    }
  }
  auto report = [&](std::string message) { out.push_back({path, with_hint(std::move(message), schema)}); };

  if (schema.contains("type") && !matches_any_type(instance, schema["type"])) {
    report(fmt::format("expected {}, got {}", describe_expected(schema), describe_value(instance)));
    return;  // the checks below assume the type
  }

  if (schema.contains("enum")) {
    bool found = false;
    for (const json& allowed : schema["enum"]) found = found || allowed == instance;
    if (!found) {
      std::string message =
          fmt::format("expected one of {}; got {}", enum_list(schema["enum"]), describe_value(instance));
      if (instance.is_string()) {
        std::vector<std::string> names;
        for (const json& allowed : schema["enum"]) {
          if (allowed.is_string()) names.push_back(allowed.get<std::string>());
        }
        message += did_you_mean(instance.get<std::string>(), names);
      }
      report(std::move(message));
      return;
    }
  }

  if (instance.is_number()) {
    const long double x = as_long_double(instance);
    // Written as !(x >= bound) so that NaN fails every bound.
    const bool in_range = !(schema.contains("minimum") && !(x >= as_long_double(schema["minimum"]))) &&
                          !(schema.contains("maximum") && !(x <= as_long_double(schema["maximum"]))) &&
                          !(schema.contains("exclusiveMinimum") && !(x > as_long_double(schema["exclusiveMinimum"]))) &&
                          !(schema.contains("exclusiveMaximum") && !(x < as_long_double(schema["exclusiveMaximum"])));
    if (!in_range) report(fmt::format("expected {}, got {}", describe_expected(schema), describe_value(instance)));
  }

  if (instance.is_string() && schema.contains("minLength") &&
      utf8_length(instance.get_ref<const std::string&>()) < schema["minLength"].get<std::size_t>()) {
    report(fmt::format("expected {}, got {}", describe_expected(schema), describe_value(instance)));
  }

  if (instance.is_array()) {
    if (schema.contains("minItems") && instance.size() < schema["minItems"].get<std::size_t>()) {
      report(fmt::format("expected {}, got {}", describe_expected(schema), describe_value(instance)));
    }
    if (schema.contains("items")) {
      for (std::size_t i = 0; i < instance.size(); ++i) {
        validate_node(schema["items"], instance[i], fmt::format("{}[{}]", path, i), depth + 1, out);
      }
    }
  }

  if (instance.is_object()) {
    const json empty = json::object();
    const json& properties = schema.contains("properties") ? schema["properties"] : empty;
    if (schema.contains("required")) {
      for (const json& key : schema["required"]) {
        if (!instance.contains(key.get<std::string>())) {
          out.push_back({child_path(path, key.get<std::string>()), "missing required key"});
        }
      }
    }
    const bool closed = schema.contains("additionalProperties") && !schema["additionalProperties"].get<bool>();
    std::vector<std::string> known;
    for (const auto& [name, sub] : properties.items()) known.push_back(name);
    for (const auto& [key, value] : instance.items()) {
      if (properties.contains(key)) {
        validate_node(properties[key], value, child_path(path, key), depth + 1, out);
      } else if (closed) {
        std::string suggestion = did_you_mean(key, known);
        if (suggestion.empty()) {
          std::string all;
          for (const std::string& k : known) all += (all.empty() ? "" : ", ") + k;
          suggestion = "; valid keys here: " + all;
        }
        out.push_back({child_path(path, key), "unknown key" + suggestion});
      }
    }
  }
}

}  // namespace abliterate::config
