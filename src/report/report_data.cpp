// The report's rows, read from a store with the attribute names the trial
// loop writes (study/attribute_names.hpp).
#include "abliterate/report/report_data.hpp"

#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "abliterate/common/error.hpp"
#include "abliterate/study/attribute_names.hpp"
#include "abliterate/study/pareto.hpp"
#include "abliterate/study/search_space.hpp"
#include "abliterate/study/store_run_lock.hpp"

namespace abliterate::report {
namespace {

using nlohmann::json;

using study::integer_attr;

std::optional<double> number_attr(const json& attrs, std::string_view key) {
  if (!attrs.is_object() || !attrs.contains(key) || !attrs.at(key).is_number()) return std::nullopt;
  return attrs.at(key).get<double>();
}

TrialRow trial_row(const study::Trial& trial) {
  TrialRow row;
  row.number = trial.number;
  row.state = trial.state;
  row.refusals = integer_attr(trial.user_attrs, study::kRefusalsAttr);
  row.n_bad_prompts = integer_attr(trial.user_attrs, study::kNBadPromptsAttr);
  row.kl_divergence = number_attr(trial.user_attrs, study::kKlDivergenceAttr);
  if (trial.user_attrs.contains(study::kParametersAttr)) {
    row.params = with_context(fmt::format("trial {}", trial.number),
                              [&] { return study::ablation_params_from_user_attrs(trial.user_attrs); });
  }
  const auto reason = trial.user_attrs.find(std::string(study::kFailReasonAttr));
  if (reason != trial.user_attrs.end())
    row.fail_reason = reason->is_string() ? reason->get<std::string>() : reason->dump();
  return row;
}

}  // namespace

std::string format_refusals(const TrialRow& row) {
  if (!row.refusals) return "-";
  return row.n_bad_prompts ? fmt::format("{}/{}", *row.refusals, *row.n_bad_prompts) : std::to_string(*row.refusals);
}

std::string choose_study(const study::SqliteStore& store, const std::optional<std::string>& requested) {
  const std::vector<std::string> names = store.study_names();
  const std::string store_path = store.path().string();
  if (requested) {
    ABL_CHECK(store.find_study(*requested), InputError, "{}: no study named \"{}\" (the store holds: {})", store_path,
              *requested, names.empty() ? "no studies" : fmt::format("{}", fmt::join(names, ", ")));
    return *requested;
  }
  ABL_CHECK(!names.empty(), InputError, "{}: the store holds no study", store_path);
  ABL_CHECK(names.size() == 1, InputError, "{}: the store holds {} studies ({}); choose one with --study", store_path,
            names.size(), fmt::join(names, ", "));
  return names.front();
}

ReportData load_report_data(const study::SqliteStore& store, const std::string& study_name, bool is_run_active) {
  const std::optional<int64_t> study_id = store.find_study(study_name);
  ABL_CHECK(study_id, InputError, "{}: no study named \"{}\"", store.path().string(), study_name);
  ReportData data;
  data.study_name = study_name;
  data.store_path = store.path().string();
  data.is_run_active = is_run_active;

  const std::vector<study::Trial> trials = store.load_trials(*study_id);
  for (const study::Trial& trial : trials) data.trials.push_back(trial_row(trial));
  for (const study::Trial& trial : with_context(data.store_path, [&] { return study::pareto_front(trials); })) {
    data.front_numbers.push_back(trial.number);
  }

  const json study_attrs = store.study_user_attrs(*study_id);
  for (const study::Trial& trial : trials) {
    if (trial.state != study::TrialState::COMPLETE) continue;
    if (!data.base_refusals) data.base_refusals = integer_attr(trial.user_attrs, study::kBaseRefusalsAttr);
    if (!data.n_bad_prompts) data.n_bad_prompts = integer_attr(trial.user_attrs, study::kNBadPromptsAttr);
  }
  if (!data.n_bad_prompts) data.n_bad_prompts = integer_attr(study_attrs, study::kNBadPromptsAttr);
  if (study_attrs.contains(study::kSettingsAttr)) {
    data.n_trials_budget = integer_attr(study_attrs.at(study::kSettingsAttr), "n_trials");
  }
  return data;
}

ReportData read_report_data(const std::filesystem::path& store_path,
                            const std::optional<std::string>& requested_study) {
  ABL_CHECK(std::filesystem::is_regular_file(store_path), InputError, "{}: no such store", store_path.string());
  // Probed before SQLite opens the file (StoreRunLock::is_held).
  const bool is_run_active = study::StoreRunLock::is_held(store_path);
  const std::unique_ptr<study::SqliteStore> store = study::SqliteStore::open_read_only(store_path);
  return load_report_data(*store, choose_study(*store, requested_study), is_run_active);
}

const std::vector<std::string>& parameter_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out = {"direction_index"};
    for (const config::NamedComponent& component : config::kNamedComponents) {
      for (const char* kernel : {"max_weight", "max_weight_position", "min_weight", "min_weight_distance"}) {
        out.push_back(fmt::format("{}.{}", component.name, kernel));
      }
    }
    return out;
  }();
  return names;
}

std::vector<std::optional<double>> parameter_values(const config::AblationParams& params) {
  std::vector<std::optional<double>> out = {params.direction_index};
  for (const config::NamedComponent& component : config::kNamedComponents) {
    const config::ComponentParams& kernel = params.*component.params;
    out.insert(out.end(),
               {kernel.max_weight, kernel.max_weight_position, kernel.min_weight, kernel.min_weight_distance});
  }
  return out;
}

}  // namespace abliterate::report
