// A JSON Schema (draft 2020-12) validator for exactly the subset that
// schemas/*.schema.json use. Debian packages no JSON Schema library for C++,
// and this subset is small: type (integer distinct from number), properties,
// required, additionalProperties: false, enum, minimum, maximum,
// exclusiveMinimum, exclusiveMaximum, minLength, items, minItems, and $ref to
// a JSON pointer inside the same document ("#/$defs/prompt_set").
//
// Annotations are read only for messages: description, default, title,
// $schema, $id, and our own "x-hint", a sentence appended to every violation
// at that schema node. Any other keyword makes load() fail, so that a schema
// using a feature this validator lacks never silently checks less.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace abliterate::config {

// One place where a document breaks its schema.
struct SchemaViolation {
  std::string path;     // key path: "n_trials", "good_prompts.split", "dtypes[1]"; "" for the document
  std::string message;  // "expected an integer >= 1, got -3"
};

// A loaded schema. Immutable after construction; validate() may be called from
// any thread.
class JsonSchema {
 public:
  // Reads the schema at `path`. Throws IoError when it cannot be read and
  // FormatError (naming the file and the JSON pointer) when it is not JSON or
  // uses an unsupported keyword or an unresolvable $ref.
  static JsonSchema load(const std::filesystem::path& path);

  // The same from a parsed document; `name` is used in messages.
  JsonSchema(nlohmann::json schema, std::string name);

  // Every violation of `instance`, in document order (object keys sorted, as
  // nlohmann::json keeps them); empty when it is valid. A node of the wrong
  // type reports only that, not the checks under it.
  std::vector<SchemaViolation> validate(const nlohmann::json& instance) const;

  const nlohmann::json& document() const { return schema_; }

 private:
  void check_supported(const nlohmann::json& node, const std::string& pointer, int depth) const;
  void validate_node(const nlohmann::json& schema, const nlohmann::json& instance, const std::string& path, int depth,
                     std::vector<SchemaViolation>& out) const;
  const nlohmann::json& resolve_ref(const std::string& ref) const;

  nlohmann::json schema_;
  std::string name_;
};

// "<file>: <path>: <message>" per violation, one per line ("<file>: <message>"
// for the document itself).
std::string format_violations(const std::string& file, const std::vector<SchemaViolation>& violations);

// How a value reads in a message: strings quoted, long values cut short,
// non-finite numbers as .inf / .nan (YAML's spelling, since JSON has none).
std::string describe_value(const nlohmann::json& value);

}  // namespace abliterate::config
