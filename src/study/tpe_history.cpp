// Store trials → TPE's view of them (spec/optuna-compat.md §1.3, §1.7).
#include "abliterate/study/tpe_history.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "abliterate/study/attribute_names.hpp"

namespace abliterate::study {
namespace {

const Distribution* find_distribution(const std::string& name, const std::vector<ParamSpec>& space,
                                      const std::vector<std::pair<std::string, Distribution>>& study_distributions) {
  for (const ParamSpec& spec : space) {
    if (spec.name == name) return &spec.distribution;
  }
  for (const auto& [stored_name, distribution] : study_distributions) {
    if (stored_name == name) return &distribution;
  }
  return nullptr;
}

// Optuna's _get_infeasible_trial_score: the sum of positive constraint values.
double constraint_violation(const nlohmann::json& system_attrs) {
  double total = 0;
  const auto add = [&](const nlohmann::json& v) {
    if (v.is_number() && v.get<double>() > 0) total += v.get<double>();
  };
  if (system_attrs.contains(kConstraintsAttr) && system_attrs.at(kConstraintsAttr).is_array()) {
    for (const auto& v : system_attrs.at(kConstraintsAttr)) add(v);
  }
  for (const auto& [key, value] : system_attrs.items()) {
    if (key.starts_with(kConstraintsAttrPrefix)) add(value);
  }
  return total;
}

// The joined `tpe:relative_params:<i>` chunks, parsed; null when absent or
// incomplete (Optuna then falls back to the trial's own params).
nlohmann::json relative_params(const nlohmann::json& system_attrs) {
  std::string text;
  for (int chunk = 0;; ++chunk) {
    const std::string key = fmt::format("{}{}", kRelativeParamsAttrPrefix, chunk);
    if (!system_attrs.contains(key) || !system_attrs.at(key).is_string()) break;
    text += system_attrs.at(key).get<std::string>();
  }
  if (text.empty()) return nullptr;
  nlohmann::json parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  return parsed.is_object() ? parsed : nlohmann::json(nullptr);
}

}  // namespace

std::vector<TpeTrial> tpe_history(const std::vector<Trial>& trials, const std::vector<ParamSpec>& space,
                                  const std::vector<std::pair<std::string, Distribution>>& study_distributions) {
  std::vector<TpeTrial> history;
  for (const Trial& trial : trials) {
    if (trial.state != TrialState::COMPLETE && trial.state != TrialState::PRUNED &&
        trial.state != TrialState::RUNNING) {
      continue;
    }
    TpeTrial t;
    t.number = trial.number;
    t.state = trial.state;
    t.values = trial.values;
    for (const auto& [name, value] : trial.params) {
      if (const Distribution* d = find_distribution(name, space, study_distributions)) t.params.push_back({name, *d, value});
    }
    if (trial.state == TrialState::RUNNING) {
      t.relative_params = relative_params(trial.system_attrs);
    } else {
      t.constraint_violation = constraint_violation(trial.system_attrs);
    }
    history.push_back(std::move(t));
  }
  return history;
}

}  // namespace abliterate::study
