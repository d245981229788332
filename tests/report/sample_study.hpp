// A real SQLite store with one study written the way the trial loop writes
// it (src/runner/trial_loop.cpp): RUNNING rows with Heretic's decoded
// parameters, then COMPLETE with the measured user attrs, or FAIL.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "abliterate/study/search_space.hpp"
#include "abliterate/study/sqlite_store.hpp"
#include "study/temp_dir.hpp"

namespace abliterate::report::testing {

using nlohmann::json;

// Base refusals R0 and bad prompts N of the sample study.
inline constexpr int64_t kBaseRefusals = 9;
inline constexpr int64_t kBadPrompts = 10;
inline const std::string kFailReason = "runtime error: <boom> & \"quoted\", comma";

// Trials 0..5: 0 COMPLETE (8 refusals, KL 0.2), 1 FAIL (kFailReason),
// 2 COMPLETE (3, 0.9), 3 COMPLETE (5, 0.5), 4 COMPLETE (6, 0.7; "per layer"
// scope, dominated by 3), 5 RUNNING. Front by refusals: 2, 3, 0.
// Returns the store's path; the store is closed.
inline std::filesystem::path write_sample_store(const study::testing::TempDir& dir,
                                                const std::string& study_name = "heretic") {
  const std::filesystem::path path = dir / "study.db";
  auto store = study::SqliteStore::open(path);
  const int64_t id = store->create_study(study_name, {study::Direction::MINIMIZE, study::Direction::MINIMIZE},
                                         json{{"settings", {{"n_trials", 6}}}, {"finished", false}});
  const std::vector<study::ParamSpec> space = study::heretic_search_space(18);
  std::vector<std::pair<std::string, study::Distribution>> dists;
  for (const study::ParamSpec& spec : space) dists.emplace_back(spec.name, spec.distribution);

  struct Outcome {
    study::TrialState state;
    int64_t refusals;
    double kl;
    double scope;  // 0 global, 1 per layer (the categorical's choice index)
  };
  const std::vector<Outcome> outcomes = {
      {study::TrialState::COMPLETE, 8, 0.2, 0}, {study::TrialState::FAIL, 0, 0, 0},
      {study::TrialState::COMPLETE, 3, 0.9, 0}, {study::TrialState::COMPLETE, 5, 0.5, 0},
      {study::TrialState::COMPLETE, 6, 0.7, 1}, {study::TrialState::RUNNING, 0, 0, 0}};
  for (size_t idx = 0; idx < outcomes.size(); ++idx) {
    const Outcome& outcome = outcomes[idx];
    const std::vector<double> values = {
        outcome.scope, 10.5 + static_cast<double>(idx), 1.2, 14.0, 0.5, 3.0, 0.9, 12.0, 0.25, 5.0};
    const json attrs = study::ablation_user_attrs(study::decode_params(space, values));
    const study::Trial trial = store->create_running_trial(id, dists, values, attrs);
    if (outcome.state == study::TrialState::COMPLETE) {
      store->complete_trial(trial.trial_id, {outcome.kl, static_cast<double>(outcome.refusals) / kBaseRefusals},
                            json{{"kl_divergence", outcome.kl},
                                 {"refusals", outcome.refusals},
                                 {"base_refusals", kBaseRefusals},
                                 {"n_bad_prompts", kBadPrompts}});
    } else if (outcome.state == study::TrialState::FAIL) {
      store->fail_trial(trial.trial_id, kFailReason);
    }
  }
  return path;
}

inline size_t count_occurrences(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + part.size())) ++n;
  return n;
}

}  // namespace abliterate::report::testing
