#include "abliterate/study/distribution.hpp"

#include <gtest/gtest.h>

#include "abliterate/common/error.hpp"
#include "support/throws_with.hpp"

namespace abliterate::study {
namespace {

using nlohmann::json;

FloatDistribution make_float(double low, double high, bool log = false, std::optional<double> step = std::nullopt) {
  FloatDistribution d;
  d.low = low;
  d.high = high;
  d.log = log;
  d.step = step;
  return d;
}

}  // namespace

// The texts Optuna's json.dumps writes (spec/optuna-compat.md §3.4).
TEST(Distribution, TextIsOptunas) {
  EXPECT_EQ(distribution_to_json_text(make_float(0.001, 10.0, true)),
            R"({"name": "FloatDistribution", "attributes": {"step": null, "low": 0.001, "high": 10.0, "log": true}})");
  EXPECT_EQ(distribution_to_json_text(make_float(0.0, 1.0, false, 0.1)),
            R"({"name": "FloatDistribution", "attributes": {"step": 0.1, "low": 0.0, "high": 1.0, "log": false}})");
  EXPECT_EQ(distribution_to_json_text(IntDistribution{0, 10, false, 2}),
            R"({"name": "IntDistribution", "attributes": {"log": false, "step": 2, "low": 0, "high": 10}})");
  EXPECT_EQ(distribution_to_json_text(CategoricalDistribution{{"global", "per layer"}}),
            R"({"name": "CategoricalDistribution", "attributes": {"choices": ["global", "per layer"]}})");
  // Python escapes non-ASCII (ensure_ascii=True).
  EXPECT_EQ(distribution_to_json_text(CategoricalDistribution{{"\xc3\xa9"}}),
            R"({"name": "CategoricalDistribution", "attributes": {"choices": ["\u00e9"]}})");
}

TEST(Distribution, JsonObjectHasNameAndAttributes) {
  const json j = distribution_to_json(make_float(6.8, 15.3));
  EXPECT_EQ(j.at("name"), "FloatDistribution");
  EXPECT_TRUE(j.at("attributes").at("step").is_null());
  EXPECT_EQ(j.at("attributes").at("low").get<double>(), 6.8);
  EXPECT_EQ(j.at("attributes").at("high").get<double>(), 15.3);
  EXPECT_FALSE(j.at("attributes").at("log").get<bool>());
}

TEST(Distribution, RoundTrips) {
  const std::vector<Distribution> cases = {
      make_float(0.4 * 17, 0.9 * 17), make_float(1e-5, 3.0, true), make_float(-1.0, 1.0, false, 0.25),
      IntDistribution{1, 100, true, 1}, IntDistribution{-4, 8, false, 3},
      CategoricalDistribution{{"global", "per layer"}}};
  for (const Distribution& d : cases) {
    EXPECT_EQ(distribution_from_json(distribution_to_json(d)), d) << distribution_to_json_text(d);
    EXPECT_EQ(distribution_from_json_text(distribution_to_json_text(d)), d) << distribution_to_json_text(d);
  }
}

TEST(Distribution, ReadsLegacyNames) {
  EXPECT_EQ(distribution_from_json_text(R"({"name": "UniformDistribution", "attributes": {"low": 0, "high": 2}})"),
            Distribution(make_float(0, 2)));
  EXPECT_EQ(
      distribution_from_json_text(R"({"name": "LogUniformDistribution", "attributes": {"low": 0.1, "high": 2}})"),
      Distribution(make_float(0.1, 2, true)));
  EXPECT_EQ(distribution_from_json_text(
                R"({"name": "DiscreteUniformDistribution", "attributes": {"low": 0, "high": 1, "q": 0.5}})"),
            Distribution(make_float(0, 1, false, 0.5)));
  EXPECT_EQ(distribution_from_json_text(
                R"({"name": "IntUniformDistribution", "attributes": {"low": 0, "high": 9, "step": 3}})"),
            Distribution(IntDistribution{0, 9, false, 3}));
  EXPECT_EQ(
      distribution_from_json_text(R"({"name": "IntLogUniformDistribution", "attributes": {"low": 1, "high": 9}})"),
      Distribution(IntDistribution{1, 9, true, 1}));
}

TEST(Distribution, RejectsWhatOptunaRejects) {
  ASSERT_THROWS_WITH(distribution_from_json_text("{"), FormatError, "not valid JSON");
  ASSERT_THROWS_WITH(distribution_from_json(json::array()), FormatError, "expected {\"name\"");
  ASSERT_THROWS_WITH(distribution_from_json_text(R"({"name": "Foo", "attributes": {}})"), FormatError,
                     "unknown name \"Foo\"");
  ASSERT_THROWS_WITH(
      distribution_from_json_text(R"({"name": "FloatDistribution", "attributes": {"low": 2, "high": 1}})"),
      FormatError, "expected low <= high");
  ASSERT_THROWS_WITH(distribution_from_json_text(
                         R"({"name": "FloatDistribution", "attributes": {"low": 0, "high": 1, "log": true}})"),
                     FormatError, "needs low > 0");
  ASSERT_THROWS_WITH(
      distribution_from_json_text(R"({"name": "FloatDistribution", "attributes": {"low": "a", "high": 1}})"),
      FormatError, "attribute \"low\": expected a number");
  ASSERT_THROWS_WITH(distribution_from_json_text(
                         R"({"name": "IntDistribution", "attributes": {"low": 1, "high": 9, "log": true, "step": 2}})"),
                     FormatError, "needs step 1");
  ASSERT_THROWS_WITH(
      distribution_from_json_text(R"({"name": "IntDistribution", "attributes": {"low": 0.5, "high": 9}})"),
      FormatError, "expected an integer");
  ASSERT_THROWS_WITH(
      distribution_from_json_text(R"({"name": "CategoricalDistribution", "attributes": {"choices": ["a", 3]}})"),
      FormatError, "choice 3 is not a string");
  ASSERT_THROWS_WITH(distribution_from_json_text(R"({"name": "IntDistribution", "attributes": {"high": 9}})"),
                     FormatError, "attribute \"low\" is missing");
}

TEST(Distribution, CompatibilityFollowsOptuna) {
  EXPECT_TRUE(distributions_compatible(make_float(0, 1), make_float(2, 3)));
  EXPECT_FALSE(distributions_compatible(make_float(0.1, 1), make_float(0.1, 1, true)));
  EXPECT_FALSE(distributions_compatible(make_float(0, 1), IntDistribution{0, 1, false, 1}));
  EXPECT_TRUE(distributions_compatible(CategoricalDistribution{{"a", "b"}}, CategoricalDistribution{{"a", "b"}}));
  EXPECT_FALSE(distributions_compatible(CategoricalDistribution{{"a", "b"}}, CategoricalDistribution{{"b", "a"}}));
}

}  // namespace abliterate::study
