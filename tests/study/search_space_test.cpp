#include "abliterate/study/search_space.hpp"

#include <algorithm>

#include <gtest/gtest.h>

#include "abliterate/common/error.hpp"
#include "support/throws_with.hpp"

namespace abliterate::study {
namespace {

const FloatDistribution& float_of(const ParamSpec& spec) { return std::get<FloatDistribution>(spec.distribution); }

void expect_uniform(const ParamSpec& spec, double low, double high) {
  const FloatDistribution& d = float_of(spec);
  EXPECT_EQ(d.low, low) << spec.name;
  EXPECT_EQ(d.high, high) << spec.name;
  EXPECT_FALSE(d.log) << spec.name;
  EXPECT_FALSE(d.step.has_value()) << spec.name;
}

}  // namespace

// Gemma 3 270m: 18 layers, last = 17 (method spec §7.2).
TEST(SearchSpace, HereticOrderAndRangesFor18Layers) {
  const std::vector<ParamSpec> space = heretic_search_space(18);
  const std::vector<std::string> names = {"direction_scope",
                                          "direction_index",
                                          "attn.o_proj.max_weight",
                                          "attn.o_proj.max_weight_position",
                                          "attn.o_proj.min_weight",
                                          "attn.o_proj.min_weight_distance",
                                          "mlp.down_proj.max_weight",
                                          "mlp.down_proj.max_weight_position",
                                          "mlp.down_proj.min_weight",
                                          "mlp.down_proj.min_weight_distance"};
  ASSERT_EQ(space.size(), names.size());
  for (size_t idx = 0; idx < names.size(); ++idx) EXPECT_EQ(space[idx].name, names[idx]);

  EXPECT_EQ(std::get<CategoricalDistribution>(space[0].distribution).choices,
            (std::vector<std::string>{"global", "per layer"}));
  expect_uniform(space[1], 0.4 * 17, 0.9 * 17);
  for (size_t base : {2u, 6u}) {
    expect_uniform(space[base + 0], 0.8, 1.5);
    expect_uniform(space[base + 1], 0.6 * 17, 1.0 * 17);
    expect_uniform(space[base + 2], 0.0, 1.0);
    expect_uniform(space[base + 3], 1.0, 0.6 * 17);
  }
  EXPECT_NEAR(float_of(space[1]).low, 6.8, 1e-12);
  EXPECT_NEAR(float_of(space[1]).high, 15.3, 1e-12);
  EXPECT_NEAR(float_of(space[5]).high, 10.2, 1e-12);
}

TEST(SearchSpace, TinyModelsClampMinWeightDistance) {
  const std::vector<ParamSpec> four = heretic_search_space(4);  // last = 3
  expect_uniform(four[1], 0.4 * 3, 0.9 * 3);
  expect_uniform(four[3], 0.6 * 3, 3.0);
  expect_uniform(four[5], 1.0, 0.6 * 3);
  // last = 1: 0.6·last < 1, so HEAD's max(…, 1) gives the single point [1, 1].
  const std::vector<ParamSpec> two = heretic_search_space(2);
  expect_uniform(two[5], 1.0, 1.0);
  expect_uniform(two[9], 1.0, 1.0);
  ASSERT_THROWS_WITH(heretic_search_space(1), InputError, "at least 2 layers, got 1");
}

TEST(SearchSpace, DecodesGlobalAndPerLayer) {
  const std::vector<ParamSpec> space = heretic_search_space(18);
  ParamValues values = {0, 10.5, 1.2, 14.0, 0.5, 3.0, 0.9, 12.0, 0.25, 5.0};
  config::AblationParams p = decode_params(space, values);
  ASSERT_TRUE(p.direction_index.has_value());
  EXPECT_EQ(*p.direction_index, 10.5);
  EXPECT_EQ(p.attn_o_proj.max_weight, 1.2);
  EXPECT_EQ(p.attn_o_proj.max_weight_position, 14.0);
  EXPECT_DOUBLE_EQ(p.attn_o_proj.min_weight, 0.6);  // 0.5 · 1.2: absolute
  EXPECT_EQ(p.attn_o_proj.min_weight_distance, 3.0);
  EXPECT_EQ(p.mlp_down_proj.max_weight, 0.9);
  EXPECT_EQ(p.mlp_down_proj.max_weight_position, 12.0);
  EXPECT_DOUBLE_EQ(p.mlp_down_proj.min_weight, 0.225);
  EXPECT_EQ(p.mlp_down_proj.min_weight_distance, 5.0);

  values[0] = 1;  // "per layer"
  EXPECT_FALSE(decode_params(space, values).direction_index.has_value());
}

TEST(SearchSpace, DecodeFindsParamsByName) {
  std::vector<ParamSpec> space = heretic_search_space(18);
  ParamValues values = {0, 10.5, 1.2, 14.0, 0.5, 3.0, 0.9, 12.0, 0.25, 5.0};
  const config::AblationParams expected = decode_params(space, values);
  std::reverse(space.begin(), space.end());
  std::reverse(values.begin(), values.end());
  const config::AblationParams p = decode_params(space, values);
  EXPECT_EQ(p.direction_index, expected.direction_index);
  EXPECT_EQ(p.mlp_down_proj.min_weight, expected.mlp_down_proj.min_weight);
}

TEST(SearchSpace, DecodeRejectsMismatch) {
  const std::vector<ParamSpec> space = heretic_search_space(18);
  ASSERT_THROWS_WITH(decode_params(space, ParamValues{0, 1}), InputError, "expected one value per parameter (10), got 2");
  std::vector<ParamSpec> partial(space.begin(), space.end() - 1);
  ASSERT_THROWS_WITH(decode_params(partial, ParamValues{0, 10.5, 1.2, 14.0, 0.5, 3.0, 0.9, 12.0, 0.25}), InputError,
                     "\"mlp.down_proj.min_weight_distance\" is missing");
  ParamValues bad_scope = {2, 10.5, 1.2, 14.0, 0.5, 3.0, 0.9, 12.0, 0.25, 5.0};
  ASSERT_THROWS_WITH(decode_params(space, bad_scope), InputError, "expected a choice index below 2, got 2");
}

TEST(SearchSpace, UserAttrsAreHereticsAndRoundTrip) {
  const std::vector<ParamSpec> space = heretic_search_space(18);
  const config::AblationParams p = decode_params(space, {0, 10.5, 1.2, 14.0, 0.5, 3.0, 0.9, 12.0, 0.25, 5.0});
  const nlohmann::json attrs = ablation_user_attrs(p);
  const nlohmann::json expected = nlohmann::json::parse(R"({
    "direction_index": 10.5,
    "parameters": {
      "attn.o_proj": {"max_weight": 1.2, "max_weight_position": 14.0, "min_weight": 0.6, "min_weight_distance": 3.0},
      "mlp.down_proj": {"max_weight": 0.9, "max_weight_position": 12.0, "min_weight": 0.225, "min_weight_distance": 5.0}
    }})");
  ASSERT_EQ(attrs.at("parameters").size(), 2u);
  EXPECT_EQ(attrs.at("direction_index"), expected.at("direction_index"));
  for (const char* c : {"attn.o_proj", "mlp.down_proj"}) {
    for (const char* k : {"max_weight", "max_weight_position", "min_weight", "min_weight_distance"}) {
      EXPECT_NEAR(attrs["parameters"][c][k].get<double>(), expected["parameters"][c][k].get<double>(), 1e-15)
          << c << "." << k;
    }
  }
  const config::AblationParams back = ablation_params_from_user_attrs(attrs);
  EXPECT_EQ(back.direction_index, p.direction_index);
  EXPECT_EQ(back.attn_o_proj.min_weight, p.attn_o_proj.min_weight);
  EXPECT_EQ(back.mlp_down_proj.min_weight_distance, p.mlp_down_proj.min_weight_distance);

  const config::AblationParams per_layer =
      decode_params(space, {1, 10.5, 1.2, 14.0, 0.5, 3.0, 0.9, 12.0, 0.25, 5.0});
  EXPECT_TRUE(ablation_user_attrs(per_layer).at("direction_index").is_null());
  EXPECT_FALSE(ablation_params_from_user_attrs(ablation_user_attrs(per_layer)).direction_index.has_value());

  nlohmann::json broken = attrs;
  broken["parameters"]["mlp.down_proj"].erase("min_weight");
  ASSERT_THROWS_WITH(ablation_params_from_user_attrs(broken), FormatError,
                     "parameters.mlp.down_proj: key \"min_weight\" is missing");
}

}  // namespace abliterate::study

namespace abliterate::study {
namespace {

// The seed model card's parameters for Gemma 3 270M (18 layers).
config::AblationParams card_params() {
  config::AblationParams p;
  p.attn_o_proj = {.max_weight = 1.19, .max_weight_position = 14.72, .min_weight = 0.16, .min_weight_distance = 2.27};
  p.mlp_down_proj = {.max_weight = 1.47, .max_weight_position = 12.86, .min_weight = 0.81, .min_weight_distance = 7.47};
  return p;  // direction_index unset: "per layer"
}

TEST(SearchSpace, EncodeIsTheInverseOfDecode) {
  const std::vector<ParamSpec> space = heretic_search_space(18);
  const config::AblationParams card = card_params();
  const ParamValues values = encode_params(space, card, "job.yaml: enqueue_trials[0]");
  EXPECT_EQ(values[0], 1);     // "per layer"
  EXPECT_DOUBLE_EQ(values[1], 11.05);  // the middle of [6.8, 15.3], unused by "per layer"
  EXPECT_DOUBLE_EQ(values[4], 0.16 / 1.19);  // min_weight as the sampler holds it
  const config::AblationParams back = decode_params(space, values);
  EXPECT_FALSE(back.direction_index.has_value());
  EXPECT_EQ(back.attn_o_proj.max_weight_position, 14.72);
  EXPECT_NEAR(back.attn_o_proj.min_weight, 0.16, 1e-15);
  EXPECT_NEAR(back.mlp_down_proj.min_weight, 0.81, 1e-15);
  EXPECT_EQ(back.mlp_down_proj.min_weight_distance, 7.47);

  config::AblationParams global = card;
  global.direction_index = 10.25;
  const ParamValues global_values = encode_params(space, global, "here");
  EXPECT_EQ(global_values[0], 0);
  EXPECT_EQ(decode_params(space, global_values).direction_index, std::optional<double>(10.25));
}

TEST(SearchSpace, EncodeRejectsValuesOutsideTheSpace) {
  const std::vector<ParamSpec> space = heretic_search_space(18);
  config::AblationParams p = card_params();
  p.attn_o_proj.max_weight_position = 3.0;  // below 0.6 · 17
  ASSERT_THROWS_WITH(encode_params(space, p, "job.yaml: enqueue_trials[1]"), InputError,
                     "job.yaml: enqueue_trials[1]: attn.o_proj.max_weight_position = 3 lies outside this model's "
                     "search space [10.2, 17]");
  p = card_params();
  p.mlp_down_proj.min_weight = 2.0;  // above max_weight
  ASSERT_THROWS_WITH(encode_params(space, p, "here"), InputError, "mlp.down_proj.min_weight / max_weight = 1.36054");
}

TEST(SearchSpace, FixedParamsAreOptunasExternalValues) {
  const std::vector<ParamSpec> space = heretic_search_space(18);
  const nlohmann::json fixed = fixed_params_attr(space, encode_params(space, card_params(), "here"));
  EXPECT_EQ(fixed.at("direction_scope"), "per layer");
  EXPECT_EQ(fixed.at("attn.o_proj.max_weight"), 1.19);
  EXPECT_EQ(fixed.size(), space.size());
}

}  // namespace
}  // namespace abliterate::study
