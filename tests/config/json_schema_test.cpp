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

// A small schema using every supported keyword once.
JsonSchema test_schema() {
  return JsonSchema(json::parse(R"({
    "$schema": "https://json-schema.org/draft/2020-12/schema",
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
      "set": {"$ref": "#/$defs/set"}
    },
    "$defs": {
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
  ASSERT_THROWS_WITH(JsonSchema(json::parse(R"({"type": "object", "oneOf": []})"), "s.json"), FormatError,
                     "s.json: /: unsupported keyword \"oneOf\"");
  ASSERT_THROWS_WITH(JsonSchema(json::parse(R"({"properties": {"a": {"pattern": "x"}}})"), "s.json"), FormatError,
                     "s.json: /properties/a: unsupported keyword \"pattern\"");
  ASSERT_THROWS_WITH(JsonSchema(json::parse(R"({"type": "int"})"), "s.json"), FormatError,
                     "s.json: /type: expected a JSON type name");
  ASSERT_THROWS_WITH(JsonSchema(json::parse(R"({"$ref": "#/$defs/missing"})"), "s.json"), FormatError,
                     "s.json: $ref \"#/$defs/missing\" points at nothing");
  ASSERT_THROWS_WITH(JsonSchema(json::parse(R"({"$ref": "other.json#/a"})"), "s.json"), FormatError,
                     "only references inside the schema");
}

TEST(JsonSchema, CyclicRefStopsAtDepthLimit) {
  const JsonSchema schema(json::parse(R"({"$ref": "#/$defs/a", "$defs": {"a": {"$ref": "#/$defs/a"}}})"), "s.json");
  const auto violations = schema.validate(json::object());
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_NE(violations[0].message.find("nested deeper than"), std::string::npos);
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
  for (const auto& [name, definition] : doc["$defs"].items()) {
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
