// Refusal directions and per-layer directions against hand-computed values
// (method spec §4.3-4.4).
#include "abliterate/method/directions.hpp"

#include <cmath>

#include <gtest/gtest.h>

#include "abliterate/common/error.hpp"
#include "support/throws_with.hpp"

namespace abliterate::method {
namespace {

TEST(RefusalDirectionsTest, NormalizedDifferenceOfMeans) {
  const torch::Tensor good = torch::tensor({1.0f, 0.0f, 0.0f, 0.0f, 0.0f, 2.0f}).reshape({2, 3});
  const torch::Tensor bad = torch::tensor({2.0f, 1.0f, 0.0f, 0.0f, 3.0f, 4.0f}).reshape({2, 3});
  // bad - good = [1, 1, 0] and [0, 3, 2].
  const float s2 = std::sqrt(2.0f);
  const float s13 = std::sqrt(13.0f);
  const torch::Tensor expected = torch::tensor({1 / s2, 1 / s2, 0.0f, 0.0f, 3 / s13, 2 / s13}).reshape({2, 3});
  EXPECT_TRUE(torch::allclose(refusal_directions(good, bad, false), expected, 1e-6, 1e-7));
}

TEST(RefusalDirectionsTest, OrthogonalizedAgainstGoodMean) {
  const torch::Tensor good = torch::tensor({1.0f, 0.0f, 0.0f, 0.0f, 0.0f, 2.0f}).reshape({2, 3});
  const torch::Tensor bad = torch::tensor({2.0f, 1.0f, 0.0f, 0.0f, 3.0f, 4.0f}).reshape({2, 3});
  // Row 0: r = [1, 1, 0]/√2, ĝ = [1, 0, 0] -> r - (r·ĝ)ĝ = [0, 1/√2, 0] -> [0, 1, 0].
  // Row 1: r = [0, 3, 2]/√13, ĝ = [0, 0, 1] -> [0, 3/√13, 0] -> [0, 1, 0].
  const torch::Tensor expected = torch::tensor({0.0f, 1.0f, 0.0f, 0.0f, 1.0f, 0.0f}).reshape({2, 3});
  const torch::Tensor directions = refusal_directions(good, bad, true);
  EXPECT_TRUE(torch::allclose(directions, expected, 1e-6, 1e-7)) << directions;
}

TEST(RefusalDirectionsTest, OrthogonalizedRowsAreUnitAndOrthogonalToGoodMean) {
  torch::manual_seed(3);
  const torch::Tensor good = torch::randn({5, 16});
  const torch::Tensor bad = good + torch::randn({5, 16});
  const torch::Tensor directions = refusal_directions(good, bad, true);  // float32 [5, 16]
  EXPECT_TRUE(torch::allclose(directions.norm(2, 1), torch::ones({5}), 1e-6, 1e-6));
  EXPECT_LT((directions * good).sum(1).abs().max().item<float>(), 1e-5);
}

class LayerDirectionsTest : public ::testing::Test {
 protected:
  // float32 [L+1 = 4, d = 2]: r0 = e0, r1 = e1, r2 = e0, r3 = e1.
  const torch::Tensor directions_ =
      torch::tensor({1.0f, 0.0f, 0.0f, 1.0f, 1.0f, 0.0f, 0.0f, 1.0f}).reshape({4, 2});
};

TEST_F(LayerDirectionsTest, PerLayerUsesTheRowOfTheLayersOutput) {
  const torch::Tensor per_layer = layer_directions(directions_, std::nullopt);
  ASSERT_EQ(per_layer.sizes(), (std::vector<int64_t>{3, 2}));
  EXPECT_TRUE(torch::equal(per_layer, directions_.slice(0, 1)));
}

TEST_F(LayerDirectionsTest, GlobalIndexLerpsAdjacentRowsAndRenormalizes) {
  // index 0.25 -> +1 = 1.25: f = 0.25, rows 1 and 2: lerp = [0.25, 0.75] -> / √0.625.
  const float norm = std::sqrt(0.625f);
  const torch::Tensor expected = torch::tensor({0.25f / norm, 0.75f / norm}).expand({3, 2});
  const torch::Tensor global = layer_directions(directions_, 0.25);
  ASSERT_EQ(global.sizes(), (std::vector<int64_t>{3, 2}));
  EXPECT_TRUE(torch::allclose(global, expected, 1e-6, 1e-7)) << global;

  // index 1.5 -> rows 2 and 3 halfway: [1, 1]/√2.
  const float inv_s2 = 1 / std::sqrt(2.0f);
  EXPECT_TRUE(torch::allclose(layer_directions(directions_, 1.5), torch::tensor({inv_s2, inv_s2}).expand({3, 2})));
  // An integral index is exactly that layer's row.
  EXPECT_TRUE(torch::allclose(layer_directions(directions_, 1.0), torch::tensor({1.0f, 0.0f}).expand({3, 2})));
}

TEST_F(LayerDirectionsTest, LastIndexClampsTheUpperRow) {
  // index 2 = L-1 -> row 3, and row 4 does not exist: lerp of row 3 with itself.
  EXPECT_TRUE(torch::allclose(layer_directions(directions_, 2.0), torch::tensor({0.0f, 1.0f}).expand({3, 2})));
}

TEST_F(LayerDirectionsTest, IndexOutOfRangeIsInputError) {
  ASSERT_THROWS_WITH(layer_directions(directions_, 3.5), InputError, "direction_index");
  ASSERT_THROWS_WITH(layer_directions(directions_, -1.5), InputError, "direction_index");
}

}  // namespace
}  // namespace abliterate::method
