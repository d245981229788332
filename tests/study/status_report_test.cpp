#include "abliterate/study/status_report.hpp"

#include <gtest/gtest.h>

#include "abliterate/common/error.hpp"
#include "abliterate/study/search_space.hpp"
#include "study/temp_dir.hpp"
#include "support/throws_with.hpp"

namespace abliterate::study {
namespace {

using nlohmann::json;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST(StatusReport, ShowsTrialsAndFront) {
  testing::TempDir dir;
  auto store = SqliteStore::open(dir / "study.db");
  const int64_t id = store->create_study("heretic", {Direction::MINIMIZE, Direction::MINIMIZE}, json::object());
  store->set_study_system_attr(id, "study:metric_names", json{"kl_score", "refusal_score"});
  const std::vector<ParamSpec> space = heretic_search_space(18);
  std::vector<std::pair<std::string, Distribution>> dists;
  for (const ParamSpec& spec : space) dists.emplace_back(spec.name, spec.distribution);
  const std::vector<double> values = {0, 10.5, 1.2, 14.0, 0.5, 3.0, 0.9, 12.0, 0.25, 5.0};
  const json attrs = ablation_user_attrs(decode_params(space, values));

  const Trial t0 = store->create_running_trial(id, dists, values, attrs);
  const Trial t1 = store->create_running_trial(id, dists, values, attrs);
  store->create_running_trial(id, dists, values, attrs);
  const Trial t3 = store->create_running_trial(id, dists, values, attrs);
  store->complete_trial(t0.trial_id, {0.3, 0.25},
                        json{{"refusals", 25}, {"kl_divergence", 0.3}, {"n_bad_prompts", 100}});
  store->fail_trial(t1.trial_id, "interrupted");
  store->complete_trial(t3.trial_id, {0.9, 0.1},
                        json{{"refusals", 10}, {"kl_divergence", 0.9}, {"n_bad_prompts", 100}});

  const std::string text = format_status(*store, "heretic");
  EXPECT_TRUE(contains(text, "Study \"heretic\" in " + (dir / "study.db").string() +
                                 ": 4 trials (2 COMPLETE, 1 FAIL, 1 RUNNING)"))
      << text;
  EXPECT_TRUE(contains(text, "Objectives: kl_score MINIMIZE, refusal_score MINIMIZE")) << text;
  EXPECT_TRUE(contains(text, "refusal_score  refusals")) << text;
  EXPECT_TRUE(contains(text, "0.3000")) << text;
  EXPECT_TRUE(contains(text, "25/100")) << text;
  EXPECT_TRUE(contains(text, "dir 10.50; attn 1.20@14.00 min 0.60 d 3.00; mlp 0.90@12.00 min 0.23 d 5.00")) << text;
  EXPECT_TRUE(contains(text, "interrupted")) << text;
  EXPECT_TRUE(contains(text, "Pareto front (refusals, KL divergence):\n"
                             "[Trial   3] Refusals: 10/100, KL divergence: 0.9000\n"
                             "[Trial   0] Refusals: 25/100, KL divergence: 0.3000\n"))
      << text;

  ASSERT_THROWS_WITH(format_status(*store, "other"), InputError, "no study named \"other\" (the store holds: \"heretic\")");
}

TEST(StatusReport, EmptyStudy) {
  testing::TempDir dir;
  auto store = SqliteStore::open(dir / "study.db");
  store->create_study("s", {Direction::MINIMIZE}, json::object());
  const std::string text = format_status(*store, "s");
  EXPECT_TRUE(contains(text, ": 0 trials\nProgress: 0 trials COMPLETE (no n_trials stored) (0 running, 0 failed)\n"
                             "Objectives: value 0 MINIMIZE\n"))
      << text;
  EXPECT_FALSE(contains(text, "Failures")) << text;
  EXPECT_TRUE(contains(text, "No COMPLETE trials yet")) << text;
}

TEST(StatusReport, ProgressAgainstStoredBudgetAndFailuresByReason) {
  testing::TempDir dir;
  auto store = SqliteStore::open(dir / "study.db");
  const int64_t id = store->create_study("s", {Direction::MINIMIZE, Direction::MINIMIZE},
                                         json{{"settings", {{"n_trials", 4}}}, {"finished", false}});
  const std::vector<ParamSpec> space = heretic_search_space(4);
  std::vector<std::pair<std::string, Distribution>> dists;
  for (const ParamSpec& spec : space) dists.emplace_back(spec.name, spec.distribution);
  const std::vector<double> values = {0, 1.5, 1.2, 2.0, 0.5, 1.0, 0.9, 2.0, 0.25, 1.0};
  std::vector<Trial> trials;
  for (int i = 0; i < 6; ++i) trials.push_back(store->create_running_trial(id, dists, values, json::object()));
  store->fail_trial(trials[0].trial_id, "interrupted");
  store->complete_trial(trials[1].trial_id, {0.1, 0.5}, json{{"refusals", 3}, {"kl_divergence", 0.1}});
  store->fail_trial(trials[2].trial_id, "out of memory");
  store->fail_trial(trials[3].trial_id, "interrupted");
  store->complete_trial(trials[4].trial_id, {0.2, 0.4}, json{{"refusals", 2}, {"kl_divergence", 0.2}});

  std::string text = format_status(*store, "s");
  EXPECT_TRUE(contains(text, "\nProgress: 2 of 4 trials COMPLETE (1 running, 3 failed); not finished\n")) << text;
  EXPECT_TRUE(contains(text, "Failures by reason:\n  2x interrupted (trials 0, 3)\n  1x out of memory (trial 2)\n"))
      << text;

  store->set_study_user_attr(id, "settings", json{{"n_trials", 2}});
  text = format_status(*store, "s");
  EXPECT_TRUE(contains(text, "\nProgress: 2 of 2 trials COMPLETE (1 running, 3 failed); finished\n")) << text;
}

}  // namespace abliterate::study
