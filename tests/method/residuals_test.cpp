// Winsorization and residual sums against hand-computed values (method spec §4.1-4.2).
#include "abliterate/method/residuals.hpp"

#include <gtest/gtest.h>

#include "abliterate/common/error.hpp"
#include "support/throws_with.hpp"

namespace abliterate::method {
namespace {

TEST(WinsorizeTest, ClampsEachVectorToItsLinearQuantile) {
  // float32 [B=2, L+1=2, d=5]
  const torch::Tensor hidden = torch::tensor({-5.0f, 1.0f, -2.0f, 3.0f, 0.5f,   //
                                              1.0f, 2.0f, 3.0f, 4.0f, 10.0f,   //
                                              0.0f, 0.0f, 0.0f, 0.0f, -1.0f,   //
                                              8.0f, -8.0f, 4.0f, -4.0f, 2.0f})
                                   .reshape({2, 2, 5});
  // q = 0.6, d = 5: position p = 0.6 * 4 = 2.4 in the sorted |x|.
  //   |x| = 0.5 1 2 3 5  -> t = 2 + 0.4 (3 - 2) = 2.4
  //   |x| = 1 2 3 4 10   -> t = 3 + 0.4 (4 - 3) = 3.4
  //   |x| = 0 0 0 0 1    -> t = 0
  //   |x| = 2 4 4 8 8    -> t = 4 + 0.4 (8 - 4) = 5.6
  const torch::Tensor expected = torch::tensor({-2.4f, 1.0f, -2.0f, 2.4f, 0.5f,  //
                                                1.0f, 2.0f, 3.0f, 3.4f, 3.4f,    //
                                                0.0f, 0.0f, 0.0f, 0.0f, 0.0f,    //
                                                5.6f, -5.6f, 4.0f, -4.0f, 2.0f})
                                     .reshape({2, 2, 5});
  const torch::Tensor clamped = winsorize(hidden, 0.6);
  EXPECT_TRUE(torch::allclose(clamped, expected, /*rtol=*/1e-6, /*atol=*/1e-6)) << clamped;
}

TEST(WinsorizeTest, QuantileZeroClampsToSmallestMagnitude) {
  const torch::Tensor hidden = torch::tensor({-3.0f, 0.5f, 2.0f}).reshape({1, 1, 3});
  const torch::Tensor expected = torch::tensor({-0.5f, 0.5f, 0.5f}).reshape({1, 1, 3});
  EXPECT_TRUE(torch::equal(winsorize(hidden, 0.0), expected));
}

TEST(WinsorizeTest, QuantileOneOrMoreIsANoOp) {
  torch::manual_seed(1);
  const torch::Tensor hidden = torch::randn({2, 3, 4});
  EXPECT_TRUE(winsorize(hidden, 1.0).is_same(hidden));
  EXPECT_TRUE(winsorize(hidden, 1.5).is_same(hidden));
}

TEST(WinsorizeTest, AgreesWithTorchQuantile) {
  torch::manual_seed(2);
  const torch::Tensor hidden = torch::randn({3, 4, 37}) * 5;  // float32 [3, 4, 37]
  for (const double q : {0.1, 0.5, 0.95, 0.999}) {
    const torch::Tensor t = torch::quantile(hidden.abs(), q, /*dim=*/-1, /*keepdim=*/true);
    const torch::Tensor expected = torch::max(torch::min(hidden, t), -t);
    EXPECT_TRUE(torch::equal(winsorize(hidden, q), expected)) << "q = " << q;
  }
}

TEST(WinsorizeTest, NegativeQuantileIsInputError) {
  ASSERT_THROWS_WITH(winsorize(torch::zeros({1, 1, 2}), -0.1), InputError, "winsorization_quantile");
}

TEST(ResidualSumsTest, AddsMergesAndAveragesInFloat64) {
  // Two batches of float32 [B, L+1=2, d=2].
  const torch::Tensor batch_a = torch::tensor({1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f, 7.0f, 8.0f}).reshape({2, 2, 2});
  const torch::Tensor batch_b = torch::tensor({0.5f, 0.5f, 1.0f, 1.0f}).reshape({1, 2, 2});
  ResidualSums sums;
  EXPECT_EQ(sums.count(), 0);
  sums.add(batch_a);
  ResidualSums other;
  other.add(batch_b);
  sums.merge(other);
  sums.merge(ResidualSums());  // merging nothing changes nothing
  EXPECT_EQ(sums.count(), 3);
  EXPECT_EQ(sums.sum().scalar_type(), torch::kFloat64);
  EXPECT_TRUE(sums.sum().device().is_cpu());
  EXPECT_TRUE(torch::equal(sums.sum(), torch::tensor({6.5, 8.5, 11.0, 13.0}, torch::kFloat64).reshape({2, 2})));
  const torch::Tensor mean = sums.mean();
  EXPECT_EQ(mean.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::allclose(mean, torch::tensor({6.5f / 3, 8.5f / 3, 11.0f / 3, 13.0f / 3}).reshape({2, 2})));

  // Merging into an empty ResidualSums copies.
  ResidualSums fresh;
  fresh.merge(sums);
  EXPECT_EQ(fresh.count(), 3);
  EXPECT_TRUE(torch::equal(fresh.sum(), sums.sum()));
}

TEST(ResidualSumsTest, Float64SumsKeepPrecisionFloat32Loses) {
  // 2^24 + 1 is not representable in float32: a float32 running sum would stall.
  ResidualSums sums;
  sums.add(torch::full({1, 1, 1}, 16777216.0f));
  sums.add(torch::ones({1, 1, 1}));
  EXPECT_EQ(sums.sum().item<double>(), 16777217.0);
}

TEST(ResidualSumsTest, SumsAreOrdinaryTensorsEvenUnderInferenceMode) {
  ResidualSums sums;
  {
    c10::InferenceMode guard;
    sums.add(torch::ones({2, 1, 3}));
  }
  sums.add(torch::ones({1, 1, 3}));
  EXPECT_FALSE(sums.sum().is_inference());
  // So a caller (the MPI reduction) may update them in place outside InferenceMode.
  torch::Tensor sum = sums.sum();
  sum.add_(1.0);
  EXPECT_TRUE(torch::equal(sums.sum(), torch::full({1, 3}, 4.0, torch::kFloat64)));
}

TEST(WinsorizeTest, ResultIsAnOrdinaryTensor) {
  torch::Tensor hidden;
  {
    c10::InferenceMode guard;
    hidden = torch::randn({1, 2, 8});  // as the model's hidden states may be
  }
  EXPECT_FALSE(winsorize(hidden, 0.5).is_inference());
}

TEST(ResidualSumsTest, MeanOfNothingIsInternalError) {
  ASSERT_THROWS_WITH(ResidualSums().mean(), InternalError, "no prompts");
}

}  // namespace
}  // namespace abliterate::method
