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

TEST(Objectives, RawObjectives) {
  config::Job job;
  job.objectives = config::Objectives::raw;
  auto v = objective_values(job, 0.002, 7, 10);
  EXPECT_DOUBLE_EQ(v[0], 0.002);
  EXPECT_DOUBLE_EQ(v[1], 7.0);
}

}  // namespace abliterate::study
