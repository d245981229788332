// Trial states as Optuna spells them in `trials.state` (spec/optuna-compat.md §3.3).
#include "abliterate/study/trial.hpp"

#include <array>
#include <cmath>
#include <utility>

#include <fmt/format.h>

#include "abliterate/common/error.hpp"

namespace abliterate::study {
namespace {

constexpr std::array<std::pair<TrialState, const char*>, 5> kTrialStateNames = {{
    {TrialState::RUNNING, "RUNNING"},
    {TrialState::COMPLETE, "COMPLETE"},
    {TrialState::PRUNED, "PRUNED"},
    {TrialState::FAIL, "FAIL"},
    {TrialState::WAITING, "WAITING"},
}};

}  // namespace

const char* to_string(TrialState s) {
  for (const auto& [state, name] : kTrialStateNames) {
    if (state == s) return name;
  }
  ABL_ASSERT(false, "unknown TrialState {}", static_cast<int>(s));
  return "";
}

TrialState trial_state_from_string(const std::string& s) {
  for (const auto& [state, name] : kTrialStateNames) {
    if (s == name) return state;
  }
  throw FormatError(
      fmt::format("trial state: expected one of RUNNING, COMPLETE, PRUNED, FAIL, WAITING; got \"{}\"", s));
}

std::optional<int64_t> integer_attr(const nlohmann::json& attrs, std::string_view key) {
  if (!attrs.is_object() || !attrs.contains(key) || !attrs.at(key).is_number()) return std::nullopt;
  return static_cast<int64_t>(std::llround(attrs.at(key).get<double>()));
}

}  // namespace abliterate::study
