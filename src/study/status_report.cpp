// `abliterate status`: a study's trials table and Pareto front.
#include "abliterate/study/status_report.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "abliterate/common/error.hpp"
#include "abliterate/study/attribute_names.hpp"
#include "abliterate/study/pareto.hpp"
#include "abliterate/study/search_space.hpp"

namespace abliterate::study {
namespace {

using nlohmann::json;


std::vector<std::string> metric_names(const json& system_attrs, size_t n_objectives) {
  if (system_attrs.contains(kMetricNamesAttr)) {
    const json& names = system_attrs.at(kMetricNamesAttr);
    if (names.is_array() && names.size() == n_objectives &&
        std::all_of(names.begin(), names.end(), [](const json& n) { return n.is_string(); })) {
      return names.get<std::vector<std::string>>();
    }
  }
  std::vector<std::string> names;
  for (size_t objective = 0; objective < n_objectives; ++objective) names.push_back(fmt::format("value {}", objective));
  return names;
}

std::string summarize_component(const char* label, const config::ComponentParams& p) {
  return fmt::format("{} {:.2f}@{:.2f} min {:.2f} d {:.2f}", label, p.max_weight, p.max_weight_position, p.min_weight,
                     p.min_weight_distance);
}

// Heretic's stored (decoded) parameters when present, else the raw params.
std::string summarize_params(const Trial& trial) {
  if (trial.user_attrs.contains(kParametersAttr)) {
    const config::AblationParams p = with_context(fmt::format("trial {}", trial.number),
                                                  [&] { return ablation_params_from_user_attrs(trial.user_attrs); });
    const std::string direction = p.direction_index ? fmt::format("{:.2f}", *p.direction_index) : "per layer";
    return fmt::format("dir {}; {}; {}", direction, summarize_component("attn", p.attn_o_proj),
                       summarize_component("mlp", p.mlp_down_proj));
  }
  if (trial.params.empty()) return "-";
  std::string out;
  for (const auto& [name, value] : trial.params) out += fmt::format("{}{}={:.2f}", out.empty() ? "" : " ", name, value);
  return out;
}

std::string format_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()), 0);
    for (size_t col = 0; col < row.size(); ++col) widths[col] = std::max(widths[col], row[col].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t col = 0; col < row.size(); ++col) {
      // Numbers align right; the state (column 1) aligns left; the free
      // text of the last two columns goes unpadded.
      const bool is_text = col + 2 >= row.size();
      if (col > 0) line += "  ";
      if (is_text) {
        line += row[col];
      } else if (col == 1) {
        line += fmt::format("{:<{}}", row[col], widths[col]);
      } else {
        line += fmt::format("{:>{}}", row[col], widths[col]);
      }
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string fail_reason(const Trial& trial) {
  const auto it = trial.user_attrs.find(std::string(kFailReasonAttr));
  if (it == trial.user_attrs.end()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

int64_t count_state(const std::vector<Trial>& trials, TrialState state) {
  return std::count_if(trials.begin(), trials.end(), [&](const Trial& t) { return t.state == state; });
}

// "Progress: C of N trials COMPLETE (R running, F failed); finished", N from
// the stored settings (Heretic counts COMPLETE trials against n_trials).
std::string format_progress(const std::vector<Trial>& trials, const json& study_attrs) {
  const int64_t n_complete = count_state(trials, TrialState::COMPLETE);
  std::optional<int64_t> n_trials;
  if (study_attrs.contains(kSettingsAttr)) n_trials = integer_attr(study_attrs.at(kSettingsAttr), "n_trials");
  std::string out = n_trials ? fmt::format("Progress: {} of {} trials COMPLETE", n_complete, *n_trials)
                             : fmt::format("Progress: {} trials COMPLETE (no n_trials stored)", n_complete);
  out += fmt::format(" ({} running, {} failed)", count_state(trials, TrialState::RUNNING),
                     count_state(trials, TrialState::FAIL));
  if (n_trials) out += n_complete >= *n_trials ? "; finished" : "; not finished";
  return out + "\n";
}

// Failed trials grouped by reason, most frequent first: "  3x interrupted
// (trials 2, 5, 9)".
std::string format_failures(const std::vector<Trial>& trials) {
  std::vector<std::pair<std::string, std::vector<int64_t>>> by_reason;
  for (const Trial& trial : trials) {
    if (trial.state != TrialState::FAIL) continue;
    std::string reason = fail_reason(trial);
    if (reason.empty()) reason = "(no reason stored)";
    auto it = std::find_if(by_reason.begin(), by_reason.end(), [&](const auto& r) { return r.first == reason; });
    if (it == by_reason.end()) it = by_reason.insert(by_reason.end(), {reason, {}});
    it->second.push_back(trial.number);
  }
  if (by_reason.empty()) return "";
  std::stable_sort(by_reason.begin(), by_reason.end(),
                   [](const auto& a, const auto& b) { return a.second.size() > b.second.size(); });
  std::string out = "Failures by reason:\n";
  for (const auto& [reason, numbers] : by_reason) {
    out += fmt::format("  {}x {} (trial{} {})\n", numbers.size(), reason, numbers.size() == 1 ? "" : "s",
                       fmt::join(numbers, ", "));
  }
  return out + "\n";
}

}  // namespace

std::string format_status(const SqliteStore& store, const std::string& study_name) {
  const std::optional<int64_t> study_id = store.find_study(study_name);
  if (!study_id) {
    std::string names;
    for (const std::string& name : store.study_names()) names += fmt::format("{}\"{}\"", names.empty() ? "" : ", ", name);
    throw InputError(fmt::format("{}: no study named \"{}\" (the store holds: {})", store.path().string(), study_name,
                                 names.empty() ? "no studies" : names));
  }
  const std::vector<Trial> trials = store.load_trials(*study_id);
  const std::vector<Direction> directions = store.study_directions(*study_id);
  const std::vector<std::string> metrics = metric_names(store.study_system_attrs(*study_id), directions.size());

  std::string out = fmt::format("Study \"{}\" in {}: {} trials", study_name, store.path().string(), trials.size());
  std::string counts;
  for (TrialState state :
       {TrialState::COMPLETE, TrialState::FAIL, TrialState::PRUNED, TrialState::RUNNING, TrialState::WAITING}) {
    const auto n = std::count_if(trials.begin(), trials.end(), [&](const Trial& t) { return t.state == state; });
    if (n > 0) counts += fmt::format("{}{} {}", counts.empty() ? "" : ", ", n, to_string(state));
  }
  if (!counts.empty()) out += fmt::format(" ({})", counts);
  out += "\n" + format_progress(trials, store.study_user_attrs(*study_id));
  out += "Objectives:";
  for (size_t objective = 0; objective < directions.size(); ++objective) {
    out += fmt::format("{} {} {}", objective == 0 ? "" : ",", metrics[objective], to_string(directions[objective]));
  }
  out += "\n\n";

  if (!trials.empty()) {
    std::vector<std::vector<std::string>> rows;
    std::vector<std::string> header = {"#", "state"};
    header.insert(header.end(), metrics.begin(), metrics.end());
    header.insert(header.end(), {"refusals", "KL", "parameters", "fail reason"});
    rows.push_back(header);
    for (const Trial& trial : trials) {
      std::vector<std::string> row = {std::to_string(trial.number), to_string(trial.state)};
      for (size_t objective = 0; objective < directions.size(); ++objective) {
        row.push_back(objective < trial.values.size() ? fmt::format("{:.4f}", trial.values[objective]) : "-");
      }
      const std::optional<int64_t> refusals = integer_attr(trial.user_attrs, kRefusalsAttr);
      const std::optional<int64_t> n_bad_prompts = integer_attr(trial.user_attrs, kNBadPromptsAttr);
      row.push_back(!refusals ? "-"
                    : n_bad_prompts ? fmt::format("{}/{}", *refusals, *n_bad_prompts)
                                    : std::to_string(*refusals));
      const bool has_kl = trial.user_attrs.contains(kKlDivergenceAttr) && trial.user_attrs.at(kKlDivergenceAttr).is_number();
      row.push_back(has_kl ? fmt::format("{:.4f}", trial.user_attrs.at(kKlDivergenceAttr).get<double>()) : "-");
      row.push_back(summarize_params(trial));
      row.push_back(fail_reason(trial));
      rows.push_back(std::move(row));
    }
    out += format_table(rows) + "\n";
  }
  out += format_failures(trials);

  const std::vector<Trial> front = pareto_front(trials);
  if (front.empty()) {
    out += "No COMPLETE trials yet: no Pareto front.\n";
    return out;
  }
  std::optional<int64_t> n_bad_prompts = integer_attr(front.front().user_attrs, kNBadPromptsAttr);
  if (!n_bad_prompts) n_bad_prompts = integer_attr(store.study_user_attrs(*study_id), kNBadPromptsAttr);
  out += "Pareto front (refusals, KL divergence):\n" + format_pareto_front(front, n_bad_prompts);
  return out;
}

}  // namespace abliterate::study
