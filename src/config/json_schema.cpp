#include "abliterate/config/json_schema.hpp"

#include <fmt/format.h>

#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#if !VALIJSON_USE_EXCEPTIONS
// Without it valijson aborts on a schema it cannot read; the valijson CMake target defines it.
#error "build with -DVALIJSON_USE_EXCEPTIONS=1 (link the valijson CMake target)"
#endif

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string_view>

#include "abliterate/common/error.hpp"
#include "schema_messages.hpp"

namespace abliterate::config {

using nlohmann::json;

namespace {

// Schemas nested deeper than this are refused rather than recursed into.
constexpr int kMaxDepth = 64;

// Values longer than this are cut short in messages.
constexpr std::size_t kMaxShownValue = 60;

// valijson implements drafts 3, 4 and 7, and we parse every schema as draft 7.
constexpr std::array<std::string_view, 2> kDraft7 = {"http://json-schema.org/draft-07/schema#",
                                                     "http://json-schema.org/draft-07/schema"};

// Draft 7's keywords as valijson reads them, by how the value holds subschemas
// ("items" holds one, or a list in tuple form), so that every subschema is
// checked too. "dependencies" maps a key to a schema or to a list of keys.
constexpr std::array<std::string_view, 9> kOneSchemaKeywords = {
    "additionalItems", "additionalProperties", "contains", "else", "if", "items", "not", "propertyNames", "then"};
constexpr std::array<std::string_view, 3> kSchemaListKeywords = {"allOf", "anyOf", "oneOf"};
constexpr std::array<std::string_view, 4> kSchemaMapKeywords = {"definitions", "dependencies", "patternProperties",
                                                                "properties"};
constexpr std::array<std::string_view, 19> kValueKeywords = {
    "$ref",      "const",         "enum",      "exclusiveMaximum", "exclusiveMinimum",
    "format",    "maxItems",      "maxLength", "maximum",          "minItems",
    "minLength", "minProperties", "minimum",   "maxProperties",    "multipleOf",
    "pattern",   "required",      "type",      "uniqueItems"};
// Read by nobody but people and our messages (x-hint).
constexpr std::array<std::string_view, 6> kAnnotations = {"$comment", "default", "description",
                                                          "examples", "title",   "x-hint"};
// Allowed only at the root: valijson reads neither ("$id" would move the base of every $ref if it did).
constexpr std::array<std::string_view, 2> kRootKeywords = {"$schema", "$id"};
constexpr std::array<std::string_view, 7> kTypeNames = {"null",   "boolean", "object", "array",
                                                        "number", "integer", "string"};
// Keywords that apply their subschemas to the value at hand, not to a part of it: a loop through them and $ref
// never reaches the end of the document.
constexpr std::array<std::string_view, 8> kInPlaceKeywords = {"allOf", "anyOf", "oneOf", "not",
                                                              "if",    "then",  "else",  "dependencies"};

template <std::size_t N>
bool contains(const std::array<std::string_view, N>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// Calls visit(subschema, "/keyword[/name]") for every subschema right under `node`; with in_place_only, only for
// those applied to the same value as `node` (kInPlaceKeywords; $ref is the caller's).
template <typename Visit>
void for_each_subschema(const json& node, bool in_place_only, Visit visit) {
  for (const auto& [key, value] : node.items()) {
    if (in_place_only && !contains(kInPlaceKeywords, key)) continue;
    const std::string at = "/" + key;
    if ((contains(kSchemaListKeywords, key) || key == "items") && value.is_array()) {
      for (std::size_t i = 0; i < value.size(); ++i) visit(value[i], fmt::format("{}/{}", at, i));
    } else if (contains(kSchemaMapKeywords, key) && value.is_object()) {
      for (const auto& [name, sub] : value.items()) {
        if (!sub.is_array()) visit(sub, at + "/" + name);  // a list under "dependencies" names keys
      }
    } else if (contains(kOneSchemaKeywords, key)) {
      visit(value, at);
    }
  }
}

// JSON Schema counts 2.0 as an integer (a number without fraction); valijson's
// nlohmann adapter goes by how the number is stored. So valijson sees such
// floats as integers; messages still show the document's own values.
void integral_floats_to_integers(json& value) {
  if (value.is_structured()) {
    for (json& v : value) integral_floats_to_integers(v);
  } else if (value.is_number_float()) {
    const double d = value.get<double>();
    if (std::isfinite(d) && std::trunc(d) == d && d >= -0x1p63 && d < 0x1p63) value = static_cast<int64_t>(d);
  }
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
  std::set<const json*> loop_free;
  check_node(schema_, "", 0, loop_free);
  auto compiled = std::make_shared<valijson::Schema>();
  valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
  try {
    parser.populateSchema(valijson::adapters::NlohmannJsonAdapter(schema_), *compiled);
  } catch (const std::exception& e) {
    throw FormatError(fmt::format("{}: valijson cannot read it as a draft 7 schema: {}", name_, e.what()));
  }
  compiled_ = std::move(compiled);
}

void JsonSchema::check_node(const json& node, const std::string& pointer, int depth,
                            std::set<const json*>& loop_free) const {
  const std::string where = pointer.empty() ? "/" : pointer;
  ABL_CHECK(depth < kMaxDepth, FormatError, "{}: {}: nested deeper than {} levels", name_, where, kMaxDepth);
  if (node.is_boolean()) return;  // draft 7: true allows every value, false none
  ABL_CHECK(node.is_object(), FormatError, "{}: {}: expected a schema object, got {}", name_, where,
            describe_value(node));
  const bool has_ref = node.contains("$ref");
  for (const auto& [key, value] : node.items()) {
    const bool root_keyword = depth == 0 && contains(kRootKeywords, key);
    const bool annotation = contains(kAnnotations, key);
    const bool known = annotation || root_keyword || contains(kValueKeywords, key) ||
                       contains(kOneSchemaKeywords, key) || contains(kSchemaListKeywords, key) ||
                       contains(kSchemaMapKeywords, key);
    ABL_CHECK(known, FormatError,
              "{}: {}: unsupported keyword \"{}\" (not draft 7, which valijson implements: it would be ignored "
              "and the schema would check less than it says)",
              name_, where, key);
    ABL_CHECK(!has_ref || key == "$ref" || annotation || root_keyword || key == "definitions", FormatError,
              "{}: {}: \"{}\" beside $ref is ignored in draft 7; move it into the schema the $ref points at", name_,
              where, key);
    const std::string at = pointer + "/" + key;
    if (key == "$schema") {
      ABL_CHECK(value.is_string() && contains(kDraft7, value.get<std::string>()), FormatError,
                "{}: {}: expected \"{}\" (draft 7, which valijson implements), got {}", name_, at, kDraft7[0],
                describe_value(value));
    } else if (key == "type") {
      auto is_name = [](const json& t) { return t.is_string() && contains(kTypeNames, t.get<std::string>()); };
      const bool ok =
          is_name(value) || (value.is_array() && !value.empty() && std::all_of(value.begin(), value.end(), is_name));
      ABL_CHECK(ok, FormatError, "{}: {}: expected a JSON type name or a list of them, got {}", name_, at,
                describe_value(value));
    } else if (key == "$ref") {
      ABL_CHECK(value.is_string(), FormatError, "{}: {}: expected a string, got {}", name_, at, describe_value(value));
      resolve_ref(value.get<std::string>());
    } else if (key == "x-hint") {
      ABL_CHECK(value.is_string(), FormatError, "{}: {}: expected a string, got {}", name_, at, describe_value(value));
    }
  }
  std::vector<const json*> path;
  check_loops(node, where, path, loop_free);
  for_each_subschema(node, false, [&](const json& sub, const std::string& at) {
    check_node(sub, pointer + at, depth + 1, loop_free);
  });
}

void JsonSchema::check_loops(const json& node, const std::string& pointer, std::vector<const json*>& path,
                             std::set<const json*>& loop_free) const {
  if (loop_free.contains(&node) || !node.is_object()) return;
  ABL_CHECK(std::find(path.begin(), path.end(), &node) == path.end(), FormatError,
            "{}: {}: reaches itself again through $ref without descending into the document (valijson would "
            "recurse without end)",
            name_, pointer);
  path.push_back(&node);
  if (const auto ref = node.find("$ref"); ref != node.end() && ref->is_string()) {  // else check_node says why
    const std::string target = ref->get<std::string>();
    check_loops(resolve_ref(target), target.size() > 1 ? target.substr(1) : "/", path, loop_free);
  }
  for_each_subschema(node, true,
                     [&](const json& sub, const std::string& at) { check_loops(sub, pointer + at, path, loop_free); });
  path.pop_back();
  loop_free.insert(&node);
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
  json normalized = instance;
  integral_floats_to_integers(normalized);
  valijson::Validator validator;  // one per call: it caches regexes, so sharing one would not be thread-safe
  valijson::ValidationResults results;
  validator.validate(*compiled_, valijson::adapters::NlohmannJsonAdapter(normalized), &results);
  return word_violations(schema_, instance, results);
}

}  // namespace abliterate::config
