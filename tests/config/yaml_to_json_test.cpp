#include "abliterate/config/yaml_to_json.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "abliterate/common/error.hpp"
#include "support/throws_with.hpp"

namespace abliterate::config {
namespace {

using nlohmann::json;

json value_of(const std::string& scalar_yaml) { return yaml_to_json("v: " + scalar_yaml + "\n", "t.yaml")["v"]; }

TEST(YamlToJson, PlainScalarsFollowTheCoreSchema) {
  struct Case {
    const char* yaml;
    json expected;
  };
  const Case cases[] = {
      {"true", true},
      {"False", false},
      {"TRUE", true},
      {"12", 12},
      {"-7", -7},
      {"+3", 3},
      {"0x1f", 31},
      {"0o17", 15},
      {"1.5", 1.5},
      {"-2.5e-3", -2.5e-3},
      {".5", 0.5},
      {"1e3", 1000.0},
      {"null", nullptr},
      {"~", nullptr},
      {"hello", "hello"},
      {"yes", "yes"},
      {"on", "on"},
      {"0.5.1", "0.5.1"},
      {"1_000", "1_000"},
      {"train[:400]", "train[:400]"},
      {"4294967295", 4294967295LL},
  };
  for (const Case& c : cases) {
    const json got = value_of(c.yaml);
    EXPECT_EQ(got, c.expected) << c.yaml;
    EXPECT_EQ(got.type(), c.expected.type()) << c.yaml;
  }
  EXPECT_TRUE(value_of("1.0").is_number_float());
  EXPECT_TRUE(value_of("12").is_number_integer());
  EXPECT_TRUE(std::isinf(value_of(".inf").get<double>()));
  EXPECT_TRUE(std::isnan(value_of(".nan").get<double>()));
  EXPECT_EQ(value_of("18446744073709551615").get<uint64_t>(), 18446744073709551615ULL);
  EXPECT_TRUE(value_of("99999999999999999999999").is_number_float());
}

TEST(YamlToJson, QuotedAndTaggedScalarsStayStrings) {
  EXPECT_EQ(value_of("'1'"), json("1"));
  EXPECT_EQ(value_of("\"true\""), json("true"));
  EXPECT_EQ(value_of("!!str 3"), json("3"));
  EXPECT_EQ(value_of("'null'"), json("null"));
  EXPECT_EQ(yaml_to_json("v: |\n  two\n  lines\n", "t.yaml")["v"], json("two\nlines\n"));
  EXPECT_EQ(value_of("!!float 3"), json(3.0));
  EXPECT_TRUE(value_of("!!float 3").is_number_float());
  EXPECT_EQ(value_of("!!int 0x10"), json(16));
}

TEST(YamlToJson, CollectionsAndEmptyValues) {
  const json doc = yaml_to_json("a:\n  b: [1, two]\n  c:\nd: {}\n", "t.yaml");
  EXPECT_EQ(doc, json::parse(R"({"a": {"b": [1, "two"], "c": null}, "d": {}})"));
  EXPECT_TRUE(yaml_to_json("", "t.yaml").is_null());
  EXPECT_TRUE(yaml_to_json("# only a comment\n", "t.yaml").is_null());
}

TEST(YamlToJson, SyntaxErrorNamesLineAndColumn) {
  ASSERT_THROWS_WITH(yaml_to_json("a: 1\nb: [1, 2\nc: 3\n", "jobs/x.yaml"), InputError, "jobs/x.yaml:3:");
  ASSERT_THROWS_WITH(yaml_to_json("a: 1\nb: [1, 2\nc: 3\n", "jobs/x.yaml"), InputError, "not valid YAML");
  ASSERT_THROWS_WITH(yaml_to_json("a: 1\n  b: 2\n", "jobs/x.yaml"), InputError, "jobs/x.yaml:2:");
}

TEST(YamlToJson, DuplicateKeysAreErrors) {
  ASSERT_THROWS_WITH(yaml_to_json("n_trials: 1\nseed: 2\nn_trials: 3\n", "x.yaml"), InputError,
                     "x.yaml:3:1: duplicate key \"n_trials\"");
}

TEST(YamlToJson, BadTagsAndKeysAreErrors) {
  ASSERT_THROWS_WITH(yaml_to_json("a: !!int abc\n", "x.yaml"), InputError,
                     "x.yaml:1:4: !!int: expected an integer, got \"abc\"");
  ASSERT_THROWS_WITH(yaml_to_json("a: !custom 1\n", "x.yaml"), InputError, "x.yaml:1:4: unsupported YAML tag");
  ASSERT_THROWS_WITH(yaml_to_json("? [1, 2]\n: 3\n", "x.yaml"), InputError, "x.yaml:1:3: a key must be a plain name");
}

TEST(YamlToJson, SelfReferentialAliasIsAnErrorNotACrash) {
  ASSERT_THROWS_WITH(yaml_to_json("a: &x [*x]\n", "x.yaml"), InputError, "nested deeper than 32 levels");
}

}  // namespace
}  // namespace abliterate::config
