#include "abliterate/study/study_overview.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "abliterate/study/attribute_names.hpp"
#include "abliterate/study/pareto.hpp"
#include "abliterate/study/trial.hpp"

namespace abliterate::study {

const char* to_string(StudyState state) {
  switch (state) {
    case StudyState::not_started: return "not started";
    case StudyState::running: return "running";
    case StudyState::interrupted: return "interrupted";
    case StudyState::failed: return "failed";
    case StudyState::done: return "done";
  }
  return "?";
}

bool is_study_finished(const SqliteStore& store, int64_t study_id) {
  const nlohmann::json attrs = store.study_user_attrs(study_id);
  const auto finished = attrs.find(std::string(kFinishedAttr));
  return finished != attrs.end() && finished->is_boolean() && finished->get<bool>();
}

StudyOverview read_study_overview(const std::filesystem::path& store_path, const std::string& name,
                                  bool is_run_active, bool has_failed) {
  StudyOverview row;
  row.name = name;
  row.state = has_failed ? StudyState::failed : StudyState::not_started;
  if (!std::filesystem::exists(store_path)) return row;
  const std::unique_ptr<SqliteStore> store = SqliteStore::open_read_only(store_path);
  const std::vector<std::string> names = store->study_names();
  if (names.empty()) return row;
  const int64_t study_id = *store->find_study(names.front());
  const nlohmann::json attrs = store->study_user_attrs(study_id);
  const nlohmann::json settings = attrs.value(std::string(kSettingsAttr), nlohmann::json::object());
  row.model = settings.value("model", std::string());
  row.n_trials = integer_attr(settings, "n_trials").value_or(0);
  const std::vector<Trial> trials = store->load_trials(study_id);
  for (const Trial& trial : trials) {
    if (trial.state != TrialState::COMPLETE) continue;
    ++row.n_complete;
    if (!row.base_refusals) row.base_refusals = integer_attr(trial.user_attrs, kBaseRefusalsAttr);
    if (!row.n_bad_prompts) row.n_bad_prompts = integer_attr(trial.user_attrs, kNBadPromptsAttr);
  }
  for (const Trial& trial : pareto_front(trials)) {
    const std::optional<int64_t> refusals = integer_attr(trial.user_attrs, kRefusalsAttr);
    const auto kl = trial.user_attrs.find(std::string(kKlDivergenceAttr));
    if (!refusals || kl == trial.user_attrs.end() || !kl->is_number()) continue;
    row.front.push_back(FrontPoint{.refusals = *refusals, .kl_divergence = kl->get<double>()});
  }
  std::sort(row.front.begin(), row.front.end(), [](const FrontPoint& a, const FrontPoint& b) {
    return a.refusals != b.refusals ? a.refusals < b.refusals : a.kl_divergence < b.kl_divergence;
  });
  if (row.front.size() > kFrontPointsShown) row.front.resize(kFrontPointsShown);
  if (is_run_active) {
    row.state = StudyState::running;
  } else if (has_failed) {
    row.state = StudyState::failed;
  } else if (is_study_finished(*store, study_id)) {
    row.state = StudyState::done;
  } else {
    row.state = StudyState::interrupted;
  }
  return row;
}

std::string format_study_overviews(const std::vector<StudyOverview>& rows) {
  struct Cells {
    std::string name, model, trials, r0, front, state;
  };
  std::vector<Cells> table = {{"study", "model", "trials", "R0", "best front points (refusals, KL)", "state"}};
  for (const StudyOverview& row : rows) {
    std::string front;
    for (const FrontPoint& point : row.front) {
      front += fmt::format("{}{}{}, {:.4f}", front.empty() ? "" : "; ", point.refusals,
                           row.n_bad_prompts ? fmt::format("/{}", *row.n_bad_prompts) : "", point.kl_divergence);
    }
    const std::string model = std::filesystem::path(row.model).filename().string();
    table.push_back(Cells{row.name, model.empty() ? "-" : model,
                          row.n_trials > 0 ? fmt::format("{}/{}", row.n_complete, row.n_trials)
                                           : fmt::format("{}", row.n_complete),
                          row.base_refusals ? fmt::format("{}", *row.base_refusals) : "-", front.empty() ? "-" : front,
                          to_string(row.state)});
  }
  size_t widths[5] = {};
  for (const Cells& cells : table) {
    const std::string* columns[5] = {&cells.name, &cells.model, &cells.trials, &cells.r0, &cells.front};
    for (size_t c = 0; c < 5; ++c) widths[c] = std::max(widths[c], columns[c]->size());
  }
  std::string out;
  for (const Cells& cells : table) {
    out += fmt::format("{:<{}}  {:<{}}  {:>{}}  {:>{}}  {:<{}}  {}\n", cells.name, widths[0], cells.model, widths[1],
                       cells.trials, widths[2], cells.r0, widths[3], cells.front, widths[4], cells.state);
  }
  return out;
}

}  // namespace abliterate::study
