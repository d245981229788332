#include "abliterate/study/pareto.hpp"

#include <gtest/gtest.h>

#include "abliterate/common/error.hpp"
#include "support/throws_with.hpp"

namespace abliterate::study {
namespace {

Trial make_trial(int64_t number, TrialState state, int refusals, double kl_divergence) {
  Trial t;
  t.trial_id = number + 1;
  t.number = number;
  t.state = state;
  t.user_attrs = {{"refusals", refusals}, {"kl_divergence", kl_divergence}};
  return t;
}

std::vector<int64_t> numbers(const std::vector<Trial>& trials) {
  std::vector<int64_t> out;
  for (const Trial& t : trials) out.push_back(t.number);
  return out;
}

}  // namespace

TEST(Pareto, KeepsStrictlyDecreasingKlByRefusals) {
  const std::vector<Trial> trials = {
      make_trial(0, TrialState::COMPLETE, 5, 0.5),
      make_trial(1, TrialState::COMPLETE, 3, 0.9),
      make_trial(2, TrialState::COMPLETE, 3, 0.7),
      make_trial(3, TrialState::COMPLETE, 7, 0.2),
      make_trial(4, TrialState::COMPLETE, 5, 0.6),   // dominated by 0
      make_trial(5, TrialState::FAIL, 0, 0.0),       // not COMPLETE: ignored
      make_trial(6, TrialState::COMPLETE, 3, 0.7),   // ties 2 exactly: only the first is kept
      make_trial(7, TrialState::COMPLETE, 10, 0.2),  // same KL as 3, more refusals: not strictly below
      make_trial(8, TrialState::RUNNING, 0, 0.0),
  };
  const std::vector<Trial> front = pareto_front(trials);
  EXPECT_EQ(numbers(front), (std::vector<int64_t>{2, 0, 3}));
  EXPECT_EQ(format_pareto_front(front, 100),
            "[Trial   2] Refusals:  3/100, KL divergence: 0.7000\n"
            "[Trial   0] Refusals:  5/100, KL divergence: 0.5000\n"
            "[Trial   3] Refusals:  7/100, KL divergence: 0.2000\n");
  EXPECT_EQ(format_pareto_front(front, std::nullopt).substr(0, 38), "[Trial   2] Refusals:  3/?, KL diverge");
}

TEST(Pareto, TieOrderFollowsInput) {
  // Stable sort: with equal keys the earlier trial in the input wins.
  const std::vector<Trial> trials = {make_trial(9, TrialState::COMPLETE, 1, 0.3),
                                     make_trial(4, TrialState::COMPLETE, 1, 0.3)};
  EXPECT_EQ(numbers(pareto_front(trials)), (std::vector<int64_t>{9}));
}

TEST(Pareto, EmptyWithoutCompleteTrials) {
  EXPECT_TRUE(pareto_front({}).empty());
  EXPECT_TRUE(pareto_front({make_trial(0, TrialState::FAIL, 1, 0.1)}).empty());
  EXPECT_EQ(format_pareto_front({}, 10), "");
}

TEST(Pareto, CompleteTrialWithoutAttrsIsAFormatError) {
  Trial t = make_trial(12, TrialState::COMPLETE, 1, 0.1);
  t.user_attrs.erase("kl_divergence");
  ASSERT_THROWS_WITH(pareto_front({t}), FormatError, "trial 12: COMPLETE but user attr \"kl_divergence\" is missing");
}

}  // namespace abliterate::study
