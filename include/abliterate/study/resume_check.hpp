// What a resumed run must agree on with the study it continues (DESIGN.md §5,
// issue 5): the job settings stored with the study (Heretic's `settings` user
// attr) and the search space of its trials. A study whose trials were measured
// on another model, other prompts or another space cannot take more trials
// without mixing incomparable values, so the coordinator refuses the run and
// names every difference; `abliterate run --force` overrides.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "abliterate/study/distribution.hpp"
#include "abliterate/study/search_space.hpp"

namespace abliterate::study {

// One setting that differs: its key (a dotted path for nested keys, e.g.
// "good_prompts.split", or "search space: <param>"), and both values as
// short JSON text ("(absent)" when missing on one side).
struct SettingsDifference {
  std::string key;
  std::string stored;
  std::string current;
};

// The settings keys whose change makes old and new trials incomparable: the
// model, its dtype, every prompt set and the system prompt, the refusal
// markers and response length that count refusals, and the objective's
// definition. Budget, batching, seed, sampler and paths may change freely.
const std::vector<std::string>& result_defining_settings_keys();

// Differences between stored and current settings (job_to_json objects) in
// the result-defining keys, in that key order; nested objects (prompt sets)
// are compared key by key.
std::vector<SettingsDifference> settings_differences(const nlohmann::json& stored, const nlohmann::json& current);

// Differences between the study's stored distributions (name order as
// stored) and the job's search space: a parameter only on one side, or a
// different distribution. Empty when nothing is stored yet.
std::vector<SettingsDifference> search_space_differences(
    const std::vector<std::pair<std::string, Distribution>>& stored, const std::vector<ParamSpec>& space);

// The refusal message: the store and study, the job file, one line per
// difference ("  key: stored X, new Y"), and how to proceed.
std::string format_resume_refusal(const std::string& store_path, const std::string& study_name,
                                  const std::string& job_path, const std::vector<SettingsDifference>& differences);

}  // namespace abliterate::study
