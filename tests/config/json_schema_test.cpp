#include "abliterate/config/json_schema.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "abliterate/common/error.hpp"
#include "abliterate/config/job_loader.hpp"
#include "support/throws_with.hpp"

namespace abliterate::config {
namespace {

using nlohmann::json;

// A small schema using every keyword the job schema uses once.
JsonSchema test_schema() {
  return JsonSchema(json::parse(R"({
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "additionalProperties": false,
    "required": ["name"],
    "properties": {
      "name": {"type": "string", "minLength": 1, "description": "a name"},
      "count": {"type": "integer", "minimum": 1, "x-hint": "zero means nothing here"},
      "ratio": {"type": "number", "minimum": 0, "maximum": 1},
      "scale": {"type": "number", "exclusiveMinimum": 0},
      "seed": {"type": "integer", "minimum": 0, "maximum": 4294967295},
      "mode": {"type": "string", "enum": ["none", "pre", "full"]},
      "flag": {"type": "boolean"},
      "tags": {"type": "array", "minItems": 1, "items": {"type": "string", "enum": ["float32", "bfloat16"]}},
      "set": {"$ref": "#/definitions/set"}
    },
    "definitions": {
      "set": {
        "type": "object",
        "additionalProperties": false,
        "required": ["dataset"],
        "properties": {"dataset": {"type": "string"}, "split": {"type": "string"}}
      }
    }
  })"),
                    "test.schema.json");
}

std::string messages(const std::vector<SchemaViolation>& violations) { return format_violations("f.yaml", violations); }

std::string check(const char* instance) { return messages(test_schema().validate(json::parse(instance))); }

TEST(JsonSchema, AcceptsValidDocument) {
  EXPECT_EQ(check(R"({"name": "a", "count": 3, "ratio": 0.5, "scale": 2, "seed": 4294967295, "mode": "pre",
                      "flag": true, "tags": ["float32"], "set": {"dataset": "d"}})"),
            "");
}

TEST(JsonSchema, IntegerIsNotAnyNumber) {
  EXPECT_EQ(check(R"({"name": "a", "count": 2.5})"),
            "f.yaml: count: expected an integer >= 1, got 2.5 "
            "(zero means nothing here)");
  // JSON Schema counts a number without fraction as an integer.
  EXPECT_EQ(check(R"({"name": "a", "count": 2.0})"), "");
  EXPECT_EQ(check(R"({"name": "a", "ratio": 1})"), "");
}

TEST(JsonSchema, WrongTypeNamesExpectedAndGot) {
  EXPECT_EQ(check(R"({"name": 5})"), "f.yaml: name: expected a non-empty string, got 5");
  EXPECT_EQ(check(R"({"name": "a", "flag": "yes"})"), "f.yaml: flag: expected true or false, got \"yes\"");
  EXPECT_EQ(check(R"({"name": "a", "count": "many"})"),
            "f.yaml: count: expected an integer >= 1, got \"many\" (zero means nothing here)");
  EXPECT_EQ(check(R"({"name": "a", "tags": "float32"})"),
            "f.yaml: tags: expected a non-empty list of strings, got \"float32\"");
  EXPECT_EQ(check(R"({"name": "a", "count": null})"),
            "f.yaml: count: expected an integer >= 1, got no value (zero means nothing here)");
  EXPECT_EQ(check(R"([1, 2])"), "f.yaml: expected a mapping, got [1,2]");
}

TEST(JsonSchema, RangesAreChecked) {
  EXPECT_EQ(check(R"({"name": "a", "count": 0})"),
            "f.yaml: count: expected an integer >= 1, got 0 (zero means nothing here)");
  EXPECT_EQ(check(R"({"name": "a", "ratio": 1.5})"), "f.yaml: ratio: expected a number in [0, 1], got 1.5");
  EXPECT_EQ(check(R"({"name": "a", "ratio": -0.1})"), "f.yaml: ratio: expected a number in [0, 1], got -0.1");
  EXPECT_EQ(check(R"({"name": "a", "scale": 0})"), "f.yaml: scale: expected a number > 0, got 0");
  EXPECT_EQ(check(R"({"name": "a", "seed": 4294967296})"),
            "f.yaml: seed: expected an integer in [0, 4294967295], got 4294967296");
  EXPECT_EQ(check(R"({"name": "a", "seed": -1})"), "f.yaml: seed: expected an integer in [0, 4294967295], got -1");
  EXPECT_EQ(check(R"({"name": ""})"), "f.yaml: name: expected a non-empty string, got \"\"");
  EXPECT_EQ(check(R"({"name": "a", "tags": []})"), "f.yaml: tags: expected a non-empty list of strings, got []");
}

TEST(JsonSchema, NonFiniteNumbersAreNotNumbers) {
  json doc = {{"name", "a"}, {"scale", std::numeric_limits<double>::infinity()}};
  EXPECT_EQ(messages(test_schema().validate(doc)), "f.yaml: scale: expected a number > 0, got .inf");
  doc["scale"] = std::nan("");
  EXPECT_EQ(messages(test_schema().validate(doc)), "f.yaml: scale: expected a number > 0, got .nan");
}

TEST(JsonSchema, EnumSuggestsNearestValue) {
  EXPECT_EQ(check(R"({"name": "a", "mode": "ful"})"),
            "f.yaml: mode: expected one of none, pre, full; got \"ful\" (did you mean \"full\"?)");
  EXPECT_EQ(check(R"({"name": "a", "mode": "sideways"})"),
            "f.yaml: mode: expected one of none, pre, full; got "
            "\"sideways\"");
}

TEST(JsonSchema, ItemsCarryTheirIndex) {
  EXPECT_EQ(check(R"({"name": "a", "tags": ["float32", "bf16"]})"),
            "f.yaml: tags[1]: expected one of float32, bfloat16; got \"bf16\" (did you mean \"bfloat16\"?)");
}

TEST(JsonSchema, RequiredAndUnknownKeys) {
  EXPECT_EQ(check(R"({})"), "f.yaml: name: missing required key");
  EXPECT_EQ(check(R"({"name": "a", "cuont": 1})"), "f.yaml: cuont: unknown key (did you mean \"count\"?)");
  EXPECT_EQ(check(R"({"name": "a", "zzzzzzzz": 1})"),
            "f.yaml: zzzzzzzz: unknown key; valid keys here: count, flag, mode, name, ratio, scale, seed, set, tags");
}

TEST(JsonSchema, RefIsFollowedWithNestedPaths) {
  EXPECT_EQ(check(R"({"name": "a", "set": {"split": 3}})"),
            "f.yaml: set.dataset: missing required key\n"
            "f.yaml: set.split: expected a string, got 3");
  EXPECT_EQ(check(R"({"name": "a", "set": {"dataset": "d", "splt": "x"}})"),
            "f.yaml: set.splt: unknown key (did you mean \"split\"?)");
}

TEST(JsonSchema, ReportsEveryViolation) {
  const auto violations = test_schema().validate(json::parse(R"({"count": 0, "mode": "x", "flag": 1})"));
  ASSERT_EQ(violations.size(), 4u);
  EXPECT_EQ(violations[0].path, "name");
}

TEST(JsonSchema, RejectsUnsupportedKeywords) {
  // valijson reads draft 7 and ignores any other keyword, so the schema would check less than it says.
  ASSERT_THROWS_WITH(JsonSchema(json::parse(R"({"type": "object", "unevaluatedProperties": false})"), "s.json"),
                     FormatError, "s.json: /: unsupported keyword \"unevaluatedProperties\"");
  ASSERT_THROWS_WITH(JsonSchema(json::parse(R"({"properties": {"a": {"dependentRequired": {}}}})"), "s.json"),
                     FormatError, "s.json: /properties/a: unsupported keyword \"dependentRequired\"");
  ASSERT_THROWS_WITH(JsonSchema(json::parse(R"({"type": "int"})"), "s.json"), FormatError,
                     "s.json: /type: expected a JSON type name");
  ASSERT_THROWS_WITH(JsonSchema(json::parse(R"({"$ref": "#/$defs/missing"})"), "s.json"), FormatError,
                     "s.json: $ref \"#/$defs/missing\" points at nothing");
  ASSERT_THROWS_WITH(JsonSchema(json::parse(R"({"$ref": "other.json#/a"})"), "s.json"), FormatError,
                     "only references inside the schema");
}

TEST(JsonSchema, RefusesWhatDraft7WouldIgnore) {
  ASSERT_THROWS_WITH(JsonSchema(json::parse(R"({"properties": {"a": {"$ref": "#/definitions/b", "minimum": 1}},
                                                "definitions": {"b": {}}})"),
                                "s.json"),
                     FormatError, "s.json: /properties/a: \"minimum\" beside $ref is ignored in draft 7");
  ASSERT_THROWS_WITH(
      JsonSchema(json::parse(R"({"$schema": "https://json-schema.org/draft/2020-12/schema"})"), "s.json"), FormatError,
      "s.json: /$schema: expected \"http://json-schema.org/draft-07/schema#\"");
  ASSERT_THROWS_WITH(JsonSchema(json::parse(R"({"properties": {"a": {"minLength": "x"}}})"), "s.json"), FormatError,
                     "s.json: valijson cannot read it as a draft 7 schema");
}

TEST(JsonSchema, CyclicRefIsRefusedAtLoad) {
  // valijson's parser recurses without end on a $ref that reaches itself (it overflows the stack), so such a schema
  // is refused when loaded; the validator it replaced reported "nested deeper than 64 levels" on every document.
  ASSERT_THROWS_WITH(
      JsonSchema(json::parse(R"({"$ref": "#/definitions/a", "definitions": {"a": {"$ref": "#/definitions/a"}}})"),
                 "s.json"),
      FormatError, "s.json: /definitions/a: reaches itself again through $ref");
  ASSERT_THROWS_WITH(JsonSchema(json::parse(R"({"allOf": [{"$ref": "#"}]})"), "s.json"), FormatError,
                     "s.json: /: reaches itself again through $ref");
  // A $ref that descends into the document first is an ordinary recursive schema.
  const JsonSchema tree(
      json::parse(R"({"type": "object", "properties": {"child": {"$ref": "#"}, "n": {"type": "integer"}}})"), "s.json");
  EXPECT_EQ(messages(tree.validate(json::parse(R"({"child": {"child": {"n": "x"}}})"))),
            "f.yaml: child.child.n: expected an integer, got \"x\"");
}

TEST(JsonSchema, OtherDraft7KeywordsAreChecked) {
  const JsonSchema schema(json::parse(R"({
    "type": "object",
    "properties": {
      "name": {"type": "string", "pattern": "^[a-z]+$"},
      "size": {"oneOf": [{"type": "integer"}, {"type": "string", "enum": ["auto"]}]},
      "pair": {"type": "array", "items": [{"type": "string"}, {"type": "integer", "x-hint": "a count"}]},
      "never": false
    }
  })"),
                          "s.json");
  EXPECT_EQ(messages(schema.validate(json::parse(R"({"name": "Abc"})"))),
            "f.yaml: name: failed to match regex specified by 'pattern' constraint, got \"Abc\"");
  EXPECT_EQ(messages(schema.validate(json::parse(R"({"pair": ["a", "b"]})"))),
            "f.yaml: pair[1]: expected an integer, got \"b\" (a count)");
  EXPECT_EQ(messages(schema.validate(json::parse(R"({"never": 1})"))), "f.yaml: never: not allowed here, got 1");
  EXPECT_EQ(messages(schema.validate(json::parse(R"({"size": "auto", "pair": ["a", 2], "name": "ab"})"))), "");
  const std::string size = messages(schema.validate(json::parse(R"({"size": 2.5})")));
  // The branches' errors, then oneOf's own.
  EXPECT_NE(
      size.find("f.yaml: size: failed to validate against any child schemas allowed by oneOf constraint, got 2.5"),
      std::string::npos)
      << size;
  EXPECT_EQ(size.find("child schema #"), std::string::npos) << size;
}

TEST(JsonSchema, HintBesideRefAppliesBelowIt) {
  const JsonSchema schema(json::parse(R"({
    "properties": {"set": {"$ref": "#/definitions/set", "x-hint": "see the README"}},
    "definitions": {"set": {"type": "object", "required": ["dataset"],
                            "properties": {"split": {"type": "string", "x-hint": "like train[:10]"}}}}
  })"),
                          "s.json");
  EXPECT_EQ(messages(schema.validate(json::parse(R"({"set": {"split": 3}})"))),
            "f.yaml: set.dataset: missing required key (see the README)\n"
            "f.yaml: set.split: expected a string, got 3 (like train[:10]) (see the README)");
}

TEST(JsonSchema, LoadReportsMissingAndBrokenFiles) {
  ASSERT_THROWS_WITH(JsonSchema::load("/nonexistent/abl/job.schema.json"), IoError,
                     "/nonexistent/abl/job.schema.json: cannot open the schema");
}

TEST(JsonSchema, JobSchemaDocumentsEveryKey) {
  // The descriptions are the user documentation: every property has one.
  const JsonSchema schema = JsonSchema::load(job_schema_path());
  const json& doc = schema.document();
  ASSERT_TRUE(doc.contains("properties"));
  for (const auto& [key, property] : doc["properties"].items()) {
    EXPECT_TRUE(property.contains("description")) << key;
    EXPECT_FALSE(property.value("description", "").empty()) << key;
  }
  for (const auto& [name, definition] : doc["definitions"].items()) {
    for (const auto& [key, property] : definition["properties"].items()) {
      EXPECT_TRUE(property.contains("description")) << name << "." << key;
    }
  }
}

TEST(DescribeValue, CutsLongValues) {
  const std::string shown = describe_value(json(std::string(200, 'x')));
  EXPECT_EQ(shown.size(), 63u);
  EXPECT_EQ(shown.substr(60), "...");
  EXPECT_EQ(describe_value(json("é")), "\"é\"");
}

}  // namespace
}  // namespace abliterate::config
