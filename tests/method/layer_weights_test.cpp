// The layer-weight kernel against hand-computed values (method spec §5.2).
#include "abliterate/method/layer_weights.hpp"

#include <gtest/gtest.h>

#include "abliterate/common/error.hpp"
#include "support/throws_with.hpp"

namespace abliterate::method {
namespace {

TEST(LayerWeightsTest, TentFromMaxAtPositionToMinAtDistance) {
  // Wmax = 1, P = 2.5, m = 0.4, D = 2: dist = 2.5, 1.5, 0.5, 0.5, 1.5, 2.5.
  const config::ComponentParams params{.max_weight = 1.0, .max_weight_position = 2.5, .min_weight = 0.4,
                               .min_weight_distance = 2.0};
  const std::vector<double> weights = layer_weights(params, 6);
  ASSERT_EQ(weights.size(), 6u);
  EXPECT_DOUBLE_EQ(weights[0], 0.0);   // 2.5 > D
  EXPECT_DOUBLE_EQ(weights[1], 0.55);  // 1 + (1.5/2)(0.4 - 1)
  EXPECT_DOUBLE_EQ(weights[2], 0.85);  // 1 + (0.5/2)(0.4 - 1)
  EXPECT_DOUBLE_EQ(weights[3], 0.85);
  EXPECT_DOUBLE_EQ(weights[4], 0.55);
  EXPECT_DOUBLE_EQ(weights[5], 0.0);
}

TEST(LayerWeightsTest, DropsFromMinToZeroJustPastDistance) {
  const config::ComponentParams params{.max_weight = 1.5, .max_weight_position = 0.0, .min_weight = 0.3,
                               .min_weight_distance = 2.0};
  const std::vector<double> weights = layer_weights(params, 5);
  EXPECT_DOUBLE_EQ(weights[0], 1.5);  // at P
  EXPECT_DOUBLE_EQ(weights[1], 0.9);  // halfway: 1.5 + 0.5 (0.3 - 1.5)
  EXPECT_DOUBLE_EQ(weights[2], 0.3);  // exactly D: m, still touched
  EXPECT_DOUBLE_EQ(weights[3], 0.0);  // past D: untouched, not m
  EXPECT_DOUBLE_EQ(weights[4], 0.0);
}

TEST(LayerWeightsTest, MinAboveMaxRisesAwayFromPosition) {
  // Nothing forces m <= Wmax outside the sampler: the formula is a plain lerp.
  const config::ComponentParams params{.max_weight = 0.5, .max_weight_position = 1.0, .min_weight = 1.0,
                               .min_weight_distance = 1.0};
  const std::vector<double> weights = layer_weights(params, 3);
  EXPECT_DOUBLE_EQ(weights[0], 1.0);
  EXPECT_DOUBLE_EQ(weights[1], 0.5);
  EXPECT_DOUBLE_EQ(weights[2], 1.0);
}

TEST(LayerWeightsTest, NonPositiveDistanceIsInputError) {
  const config::ComponentParams params{.max_weight = 1.0, .max_weight_position = 1.0, .min_weight = 0.5,
                               .min_weight_distance = 0.0};
  ASSERT_THROWS_WITH(layer_weights(params, 3), InputError, "min_weight_distance");
}

}  // namespace
}  // namespace abliterate::method
