// Checks a document against a JSON Schema (draft 7) and words what is wrong for
// the person who wrote the document. valijson (Debian's libvalijson-dev) does
// the validating; this layer only turns its errors into our messages: key path
// ("good_prompts.split", "dtypes[1]"), what the schema expects in words
// ("an integer >= 1"), the nearest valid key or enum value, and our own
// annotation "x-hint", a sentence appended to every violation at that schema
// node. Two rules valijson lacks are added: 2.0 counts as an integer (JSON
// Schema says so; valijson goes by how nlohmann stores the number), and .inf
// and .nan (YAML has them, JSON has not) are of no JSON type.
//
// load() refuses what valijson would silently check less than the schema says:
// a keyword draft 7 does not have (2019-09's "$defs", "unevaluatedProperties",
// a typo), a keyword beside $ref (draft 7 ignores those), a $ref outside the
// document, and a schema that reaches itself through $ref without descending
// into the document (valijson would recurse without end).
#pragma once

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

namespace valijson {
class Schema;
}

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
  // FormatError (naming the file, and the JSON pointer where there is one)
  // when it is not JSON, not draft 7, uses a keyword load() refuses (above),
  // has an unresolvable $ref, or cannot be parsed by valijson.
  static JsonSchema load(const std::filesystem::path& path);

  // The same from a parsed document; `name` is used in messages.
  JsonSchema(nlohmann::json schema, std::string name);

  // Every violation of `instance`, in document order (object keys sorted, as
  // nlohmann::json keeps them, missing required keys first); empty when it is
  // valid. A node of the wrong type reports only that, not the checks under it.
  std::vector<SchemaViolation> validate(const nlohmann::json& instance) const;

  const nlohmann::json& document() const { return schema_; }

 private:
  void check_node(const nlohmann::json& node, const std::string& pointer, int depth,
                  std::set<const nlohmann::json*>& loop_free) const;
  void check_loops(const nlohmann::json& node, const std::string& pointer, std::vector<const nlohmann::json*>& path,
                   std::set<const nlohmann::json*>& loop_free) const;
  const nlohmann::json& resolve_ref(const std::string& ref) const;

  nlohmann::json schema_;
  std::string name_;
  std::shared_ptr<const valijson::Schema> compiled_;  // shared by copies: valijson's Schema cannot be copied
};

// "<file>: <path>: <message>" per violation, one per line ("<file>: <message>"
// for the document itself).
std::string format_violations(const std::string& file, const std::vector<SchemaViolation>& violations);

// How a value reads in a message: strings quoted, long values cut short,
// non-finite numbers as .inf / .nan (YAML's spelling, since JSON has none).
std::string describe_value(const nlohmann::json& value);

}  // namespace abliterate::config
