#include "abliterate/study/objectives.hpp"

#include <gtest/gtest.h>

namespace abliterate::study {

TEST(Objectives, HereticScoresAboveAndBelowTarget) {
  config::Job job;  // s = 1.0, t = 0.01
  auto above = objective_values(job, 0.5, 3, 12);
  EXPECT_DOUBLE_EQ(above[0], 0.5);
  EXPECT_DOUBLE_EQ(above[1], 0.25);
  auto below = objective_values(job, 0.001, 6, 12);
  EXPECT_DOUBLE_EQ(below[0], 0.5 * 0.01);
  EXPECT_DOUBLE_EQ(below[1], 0.5);
  job.kl_divergence_scale = 2.0;
  EXPECT_DOUBLE_EQ(objective_values(job, 0.5, 3, 12)[0], 0.25);
}

TEST(Objectives, ZeroBaselineUsesRawRefusals) {
  config::Job job;
  auto v = objective_values(job, 0.2, 2, 0);
  EXPECT_DOUBLE_EQ(v[1], 2.0);
}

TEST(Objectives, TargetItselfScoresKlAndZeroBaselineBelowTargetScalesRawRefusals) {
  config::Job job;  // s = 1.0, t = 0.01
  // K >= t (method spec §6.4): at exactly t the KL itself is the score.
  EXPECT_DOUBLE_EQ(objective_values(job, 0.01, 4, 8)[0], 0.01);
  // R0 = 0 (v1.3.0's guard): refusal_score = R, and below t the KL score is R·t/s.
  job.kl_divergence_scale = 0.5;
  const auto v = objective_values(job, 0.0, 3, 0);
  EXPECT_DOUBLE_EQ(v[1], 3.0);
  EXPECT_DOUBLE_EQ(v[0], 3.0 * 0.01 / 0.5);
}

TEST(Objectives, RawObjectives) {
  config::Job job;
  job.objectives = config::Objectives::raw;
  auto v = objective_values(job, 0.002, 7, 10);
  EXPECT_DOUBLE_EQ(v[0], 0.002);
  EXPECT_DOUBLE_EQ(v[1], 7.0);
}

}  // namespace abliterate::study
