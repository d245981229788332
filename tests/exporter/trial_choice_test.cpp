// choose_trial: the asked trial when it is COMPLETE; otherwise the Pareto
// front's fewest refusals within the KL budget, with the reason; a RUNNING or
// FAIL trial, an absent one and an empty budget are refused naming the store.
#include "abliterate/exporter/trial_choice.hpp"

#include <gtest/gtest.h>

#include "abliterate/common/error.hpp"
#include "support/throws_with.hpp"

namespace abliterate::exporter {
namespace {

study::Trial trial(int64_t number, study::TrialState state, double kl, double refusals) {
  study::Trial t;
  t.number = number;
  t.state = state;
  if (state == study::TrialState::COMPLETE) {
    t.values = {kl, refusals};  // the study's objectives: KL divergence, then refusals
    t.user_attrs = {{"kl_divergence", kl}, {"refusals", refusals}};
  }
  return t;
}

const std::vector<study::Trial> kTrials = {
    trial(0, study::TrialState::COMPLETE, 0.02, 20), trial(1, study::TrialState::COMPLETE, 0.3, 4),
    trial(2, study::TrialState::COMPLETE, 1.5, 0),   trial(3, study::TrialState::RUNNING, 0, 0),
    trial(4, study::TrialState::FAIL, 0, 0),
};

TEST(TrialChoice, TheFrontsFewestRefusalsWithinTheBudget) {
  const TrialChoice choice = choose_trial(kTrials, std::nullopt, 1.0, "s.db");
  ASSERT_NE(choice.trial, nullptr);
  EXPECT_EQ(choice.trial->number, 1);  // trial 2 refuses less but is past the KL budget
  EXPECT_NE(choice.reason.find("fewest refusals"), std::string::npos) << choice.reason;
  EXPECT_EQ(choose_trial(kTrials, std::nullopt, 2.0, "s.db").trial->number, 2);
  EXPECT_EQ(choose_trial(kTrials, 0, 1.0, "s.db").trial->number, 0);
}

TEST(TrialChoice, UnfinishedAbsentOrOverBudgetIsRefused) {
  ASSERT_THROWS_WITH(choose_trial(kTrials, 3, 1.0, "s.db"), InputError, "s.db: trial 3 is RUNNING, not COMPLETE");
  ASSERT_THROWS_WITH(choose_trial(kTrials, 4, 1.0, "s.db"), InputError, "s.db: trial 4 is FAIL, not COMPLETE");
  ASSERT_THROWS_WITH(choose_trial(kTrials, 9, 1.0, "s.db"), InputError, "s.db: no trial 9");
  ASSERT_THROWS_WITH(choose_trial(kTrials, std::nullopt, 0.01, "s.db"), InputError, "s.db");
}

}  // namespace
}  // namespace abliterate::exporter
