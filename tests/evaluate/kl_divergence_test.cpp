// KL(base || trial), batchmean, against hand-computed values (method spec §6.1).
#include "abliterate/evaluate/kl_divergence.hpp"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "abliterate/common/error.hpp"
#include "support/throws_with.hpp"

namespace abliterate::evaluate {
namespace {

TEST(KlDivergenceTest, IdenticalDistributionsGiveZero) {
  torch::manual_seed(4);
  const torch::Tensor logprobs = torch::log_softmax(torch::randn({4, 50}), 1);
  EXPECT_EQ(kl_divergence(logprobs, logprobs), 0.0);
}

TEST(KlDivergenceTest, TwoByThreeByHand) {
  // Row 0: p = (1/2, 1/4, 1/4), q = (1/4, 1/2, 1/4): KL = 1/2 ln 2 - 1/4 ln 2 = ln(2)/4.
  // Row 1: p = (0.1, 0.2, 0.7), q uniform: KL = 0.1 ln 0.3 + 0.2 ln 0.6 + 0.7 ln 2.1.
  const torch::Tensor base = torch::tensor({0.5f, 0.25f, 0.25f, 0.1f, 0.2f, 0.7f}).reshape({2, 3}).log();
  const torch::Tensor trial =
      torch::tensor({0.25f, 0.5f, 0.25f, 1.0f / 3, 1.0f / 3, 1.0f / 3}).reshape({2, 3}).log();
  const double row0 = std::log(2.0) / 4;
  const double row1 = 0.1 * std::log(0.3) + 0.2 * std::log(0.6) + 0.7 * std::log(2.1);
  EXPECT_NEAR(kl_divergence(base, trial), (row0 + row1) / 2, 1e-6);
  // Not symmetric: KL(q || p) differs.
  EXPECT_GT(std::abs(kl_divergence(trial, base) - (row0 + row1) / 2), 1e-3);
}

TEST(KlDivergenceTest, NanIsNumericError) {
  const torch::Tensor base = torch::log_softmax(torch::randn({2, 3}), 1);
  torch::Tensor trial = base.clone();
  trial[1][2] = std::numeric_limits<float>::quiet_NaN();
  ASSERT_THROWS_WITH(kl_divergence(base, trial), NumericError, "trial log-probabilities hold NaN");
  ASSERT_THROWS_WITH(kl_divergence(trial, base), NumericError, "baseline log-probabilities hold NaN");
}

// A trial that rules out a token the baseline allows has infinite KL: a
// failed trial, not a number the sampler can use.
TEST(KlDivergenceTest, InfiniteIsNumericError) {
  const torch::Tensor base = torch::log_softmax(torch::randn({2, 3}), 1);
  torch::Tensor trial = base.clone();
  trial[0][1] = -std::numeric_limits<float>::infinity();
  ASSERT_THROWS_WITH(kl_divergence(base, trial), NumericError, "KL divergence is inf");
  torch::Tensor both = base.clone();
  both[0][1] = -std::numeric_limits<float>::infinity();
  ASSERT_THROWS_WITH(kl_divergence(both, trial), NumericError, "-inf on both sides");
}

}  // namespace
}  // namespace abliterate::evaluate
