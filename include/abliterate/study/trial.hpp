// A trial as the store keeps it (spec/optuna-compat.md §3.3, §3.5).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace abliterate::study {

// Stored as the member name (Optuna's enum spelling).
enum class TrialState { RUNNING, COMPLETE, PRUNED, FAIL, WAITING };

const char* to_string(TrialState s);
// Throws FormatError on an unknown spelling.
TrialState trial_state_from_string(const std::string& s);

struct Trial {
  int64_t trial_id = 0;              // store row id
  int64_t number = 0;                // dense, 0-based, per study
  TrialState state = TrialState::RUNNING;
  std::vector<std::pair<std::string, double>> params;  // internal repr, in stored order
  std::vector<double> values;        // one per objective when COMPLETE
  nlohmann::json user_attrs = nlohmann::json::object();
  nlohmann::json system_attrs = nlohmann::json::object();
  std::string datetime_start;        // "YYYY-MM-DD HH:MM:SS.ffffff" UTC, empty when none
  std::string datetime_complete;
};

// attrs[key] as an integer, rounded (Optuna-written stores may hold counts as
// floats, 25.0); nullopt when attrs is not an object or has no number there.
std::optional<int64_t> integer_attr(const nlohmann::json& attrs, std::string_view key);

}  // namespace abliterate::study
