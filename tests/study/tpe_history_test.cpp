// Store trials as TPE reads them.
#include "abliterate/study/tpe_history.hpp"

#include <gtest/gtest.h>

namespace abliterate::study {
namespace {

FloatDistribution unit() {
  FloatDistribution d;
  d.low = 0;
  d.high = 1;
  return d;
}

Trial make_trial(int64_t number, TrialState state, std::vector<std::pair<std::string, double>> params) {
  Trial t;
  t.number = number;
  t.state = state;
  t.params = std::move(params);
  return t;
}

TEST(TpeHistory, KeepsCompletePrunedRunningWithDistributions) {
  const std::vector<ParamSpec> space = {{"x", unit()}};
  const std::vector<std::pair<std::string, Distribution>> stored = {{"old", IntDistribution{0, 5, false, 1}}};
  std::vector<Trial> trials = {make_trial(0, TrialState::COMPLETE, {{"x", 0.5}, {"old", 3}, {"gone", 1}}),
                               make_trial(1, TrialState::FAIL, {{"x", 0.1}}),
                               make_trial(2, TrialState::PRUNED, {{"x", 0.2}}),
                               make_trial(3, TrialState::WAITING, {}),
                               make_trial(4, TrialState::RUNNING, {})};
  trials[0].values = {1.0, 2.0};
  trials[0].system_attrs = {{"constraints", {0.5, -1.0, 0.25}}, {"constraints:extra", 1.0}};
  trials[4].system_attrs = {{"tpe:relative_params:0", R"({"x": 0.)"}, {"tpe:relative_params:1", R"(75})"}};
  const std::vector<TpeTrial> history = tpe_history(trials, space, stored);
  ASSERT_EQ(history.size(), 3u);
  EXPECT_EQ(history[0].number, 0);
  ASSERT_EQ(history[0].params.size(), 2u);  // "gone" has no known distribution
  EXPECT_EQ(history[0].params[1].distribution, (Distribution{IntDistribution{0, 5, false, 1}}));
  EXPECT_EQ(history[0].values, (std::vector<double>{1.0, 2.0}));
  EXPECT_DOUBLE_EQ(history[0].constraint_violation, 1.75);
  EXPECT_EQ(history[1].state, TrialState::PRUNED);
  EXPECT_EQ(history[2].state, TrialState::RUNNING);
  EXPECT_EQ(history[2].relative_params, nlohmann::json::parse(R"({"x": 0.75})"));
}

TEST(TpeHistory, BrokenRelativeParamsAreIgnored) {
  std::vector<Trial> trials = {make_trial(0, TrialState::RUNNING, {{"x", 0.5}})};
  trials[0].system_attrs = {{"tpe:relative_params:0", R"({"x": 0.)"}};
  const std::vector<TpeTrial> history = tpe_history(trials, {{"x", unit()}}, {});
  ASSERT_EQ(history.size(), 1u);
  EXPECT_TRUE(history[0].relative_params.is_null());
}

}  // namespace
}  // namespace abliterate::study
