#include "abliterate/runner/stored_study.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "abliterate/common/error.hpp"
#include "abliterate/config/job_keys.hpp"
#include "abliterate/config/job_loader.hpp"
#include "abliterate/runner/study_inputs.hpp"
#include "abliterate/study/attribute_names.hpp"
#include "abliterate/study/resume_check.hpp"
#include "abliterate/study/search_space.hpp"
#include "abliterate/study/sqlite_store.hpp"

namespace abliterate::runner {
namespace {

// The study `name`, or the store's only one.
std::string choose_study(const study::SqliteStore& store, const std::optional<std::string>& name) {
  const std::string store_path = store.path().string();
  if (name) {
    ABL_CHECK(store.find_study(*name).has_value(), InputError, "{}: no study \"{}\" (studies: {})", store_path, *name,
              fmt::join(store.study_names(), ", "));
    return *name;
  }
  const std::vector<std::string> names = store.study_names();
  ABL_CHECK(!names.empty(), InputError, "{}: the store holds no study", store_path);
  ABL_CHECK(names.size() == 1, InputError, "{}: the store holds {} studies ({}); choose one with --study", store_path,
            names.size(), fmt::join(names, ", "));
  return names.front();
}

// The job the study ran with: `job_path` checked against the stored settings,
// or the settings themselves.
config::Job study_job(const std::string& store_path, const std::string& study_name, const nlohmann::json& settings,
                      const std::optional<std::string>& job_path) {
  if (!job_path) {
    // Relative inputs in the settings are relative to the job file, which the
    // store does not know: the store's folder is the best guess, and the
    // message for a missing model says to give --job.
    return config::job_from_json(settings, store_path);
  }
  config::Job job = config::load_job(*job_path);
  const nlohmann::json current = config::job_to_json(job);
  std::vector<study::SettingsDifference> differences = study::settings_differences(settings, current);
  // The row normalization is the method's, not the measurement's, so the
  // resume check lets it change; a trial's ablation needs the one it ran with.
  const std::string mode_key = config::key_name(config::JobKey::row_normalization);
  if (settings.value(mode_key, nlohmann::json()) != current.value(mode_key, nlohmann::json())) {
    differences.push_back({mode_key, settings.value(mode_key, nlohmann::json()).dump(), current[mode_key].dump()});
  }
  ABL_CHECK(differences.empty(), InputError, "{}",
            study::format_resume_refusal(store_path, study_name, *job_path, differences));
  return job;
}

}  // namespace

StoredStudy open_stored_study(const std::filesystem::path& store_path, const std::optional<std::string>& job_path,
                              const std::optional<std::string>& study_name) {
  ABL_CHECK(std::filesystem::exists(store_path), InputError, "{}: no such store", store_path.string());
  const std::unique_ptr<study::SqliteStore> store = study::SqliteStore::open_read_only(store_path);
  StoredStudy out;
  out.store_path = store_path;
  out.study_name = choose_study(*store, study_name);
  const int64_t study_id = *store->find_study(out.study_name);
  const nlohmann::json attrs = store->study_user_attrs(study_id);
  const auto settings = attrs.find(study::kSettingsAttr);
  ABL_CHECK(settings != attrs.end() && settings->is_object(), InputError,
            "{}: study \"{}\" has no stored `settings`: it was not made by `abliterate run`", store_path.string(),
            out.study_name);
  out.job = study_job(store_path.string(), out.study_name, *settings, job_path);
  out.trials = store->load_trials(study_id);

  const std::filesystem::path model_path = out.job.resolve_input(out.job.model);
  ABL_CHECK(std::filesystem::exists(model_path), InputError,
            "{}: the study's model {} does not exist{}", store_path.string(), model_path.string(),
            job_path ? "" : " (relative paths in the stored settings resolve against the store's folder; give the "
                            "study's job file with --job)");
  const StudyInputs inputs = load_study_inputs(out.job);
  out.fingerprint = preparation_fingerprint(out.job, inputs);
  const std::filesystem::path cache_path = out.job.cache;
  std::optional<cache::Preparation> preparation = cache::read_preparation(cache_path, out.fingerprint);
  ABL_CHECK(preparation.has_value(), InputError,
            "{}: no refusal directions cached for this study's inputs (the cache is absent or was made for other "
            "inputs); `abliterate run` the job once to compute them",
            cache_path.string());
  out.preparation = std::move(*preparation);
  return out;
}

config::AblationParams stored_trial_params(const StoredStudy& study, int64_t number) {
  const auto it = std::find_if(study.trials.begin(), study.trials.end(),
                               [&](const study::Trial& trial) { return trial.number == number; });
  ABL_CHECK(it != study.trials.end(), InputError, "{}: study \"{}\" has no trial {} (its trials are 0 to {})",
            study.store_path.string(), study.study_name, number, static_cast<int64_t>(study.trials.size()) - 1);
  ABL_CHECK(it->user_attrs.contains(std::string(study::kParametersAttr)), InputError,
            "{}: trial {} of study \"{}\" holds no ablation parameters", study.store_path.string(), number,
            study.study_name);
  return study::ablation_params_from_user_attrs(it->user_attrs);
}

}  // namespace abliterate::runner
