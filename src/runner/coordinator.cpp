#include "abliterate/runner/coordinator.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "abliterate/common/error.hpp"
#include "abliterate/config/job_keys.hpp"
#include "abliterate/config/job_loader.hpp"
#include "abliterate/runner/preparation.hpp"
#include "abliterate/runner/protocol.hpp"
#include "abliterate/runner/study_inputs.hpp"
#include "abliterate/runner/task_runner.hpp"
#include "abliterate/runner/trial_loop.hpp"
#include "abliterate/runner/worker_setup.hpp"
#include "abliterate/study/attribute_names.hpp"
#include "abliterate/study/objectives.hpp"
#include "abliterate/study/pareto.hpp"
#include "abliterate/study/resume_check.hpp"
#include "abliterate/study/search_space.hpp"
#include "abliterate/study/sqlite_store.hpp"
#include "abliterate/study/store_run_lock.hpp"

namespace abliterate::runner {
namespace {

struct OpenedStudy {
  int64_t study_id = 0;
  int64_t n_trials = 0;  // COMPLETE trials to reach in this run
  std::vector<study::ParamValues> requeued;
  std::vector<nlohmann::json> requeued_system_attrs;
};

// Every interrupted trial whose parameters have not been run again yet, by
// number, with Optuna's retry attrs for its re-run (spec §4.3). A retried
// trial names the trial it retries as the last entry of `retry_history`, so a
// run killed after failing a trial but before re-running it (during the
// preparation) loses nothing: the next run finds the trial still unretried.
void requeue_interrupted(const std::vector<study::Trial>& trials, const std::vector<study::ParamSpec>& space,
                         OpenedStudy& opened) {
  std::set<int64_t> retried;
  for (const study::Trial& trial : trials) {
    const auto history = trial.system_attrs.find(study::kRetryHistoryAttr);
    if (history != trial.system_attrs.end() && history->is_array() && !history->empty() &&
        history->back().is_number_integer()) {
      retried.insert(history->back().get<int64_t>());
    }
  }
  for (const study::Trial& trial : trials) {
    if (trial.state != study::TrialState::FAIL || retried.contains(trial.number)) continue;
    const auto reason = trial.user_attrs.find(std::string(study::kFailReasonAttr));
    const std::string why = reason != trial.user_attrs.end() && reason->is_string() ? reason->get<std::string>() : "";
    if (why != study::kInterruptedReason && why != study::kWorkerTimeoutReason) continue;
    std::map<std::string, double> by_name(trial.params.begin(), trial.params.end());
    study::ParamValues values;
    for (const study::ParamSpec& spec : space) {
      if (!by_name.count(spec.name)) break;
      values.push_back(by_name[spec.name]);
    }
    if (values.size() != space.size()) continue;  // another space (--force): cannot be re-run as is
    nlohmann::json history = trial.system_attrs.value(study::kRetryHistoryAttr, nlohmann::json::array());
    if (!history.is_array()) history = nlohmann::json::array();
    history.push_back(trial.number);
    opened.requeued.push_back(std::move(values));
    opened.requeued_system_attrs.push_back(
        {{study::kFailedTrialAttr, trial.system_attrs.value(study::kFailedTrialAttr, nlohmann::json(trial.number))},
         {study::kRetryHistoryAttr, std::move(history)}});
  }
}

// The job's enqueue_trials as the sampler's values. Checked before the store
// is touched: a set outside the search space is an input error.
std::vector<study::ParamValues> encode_enqueued(const config::Job& job, const std::vector<study::ParamSpec>& space) {
  std::vector<study::ParamValues> enqueued;
  for (size_t i = 0; i < job.enqueue_trials.size(); ++i) {
    enqueued.push_back(study::encode_params(
        space, job.enqueue_trials[i],
        fmt::format("{}: {}[{}]", job.source_path.string(), config::key_name(config::JobKey::enqueue_trials), i)));
  }
  return enqueued;
}

// Queues the enqueued sets the study has not seen, after the interrupted
// trials (Optuna's enqueue_trial with skip_if_exists): a trial whose
// `fixed_params` equal a set's is that set, whatever its state, so a resumed
// run never repeats one.
void queue_enqueued(const std::vector<study::ParamValues>& enqueued, const std::vector<study::Trial>& trials,
                    const std::vector<study::ParamSpec>& space, OpenedStudy& opened) {
  std::vector<nlohmann::json> seen;
  for (const study::Trial& trial : trials) {
    const auto fixed = trial.system_attrs.find(study::kFixedParamsAttr);
    if (fixed != trial.system_attrs.end()) seen.push_back(*fixed);
  }
  int64_t n_queued = 0;
  for (const study::ParamValues& values : enqueued) {
    nlohmann::json fixed = study::fixed_params_attr(space, values);
    if (std::find(seen.begin(), seen.end(), fixed) != seen.end()) continue;
    seen.push_back(fixed);
    opened.requeued.push_back(values);
    opened.requeued_system_attrs.push_back({{study::kFixedParamsAttr, std::move(fixed)}});
    ++n_queued;
  }
  if (n_queued > 0) fmt::print("* {} enqueued trial(s) will run before sampled ones\n", n_queued);
}

// Refuses to continue a study that is not ours, or whose trials were measured
// on another model, other prompts or another search space (issue 5): mixing
// them would make the front meaningless. Returns the stored budget (0 when
// unknown). `--force` overrides a settings difference, never the directions.
int64_t check_resumable(const config::Job& job, const RunOptions& options, const study::SqliteStore& store,
                        int64_t study_id, const std::vector<study::ParamSpec>& space, const nlohmann::json& current) {
  const std::string store_path = store.path().string();
  const std::vector<study::Direction> directions = store.study_directions(study_id);
  const std::vector<study::Direction> ours = {study::Direction::MINIMIZE, study::Direction::MINIMIZE};
  if (directions != ours) {
    std::vector<std::string> names;
    for (study::Direction d : directions) names.emplace_back(study::to_string(d));
    throw FormatError(fmt::format(
        "{}: study \"{}\" has the directions [{}], not abliterate's two minimized objectives: it is not an "
        "abliterate study and is left unchanged; set another study_name or store",
        store_path, job.study_name, fmt::join(names, ", ")));
  }
  const nlohmann::json attrs = store.study_user_attrs(study_id);
  const auto settings = attrs.find(study::kSettingsAttr);
  if (settings == attrs.end() || !settings->is_object()) {
    ABL_CHECK(options.force, InputError,
              "{}: study \"{}\" has no stored `settings` (it was not started by `abliterate run`); run with --force "
              "to adopt it with the settings of {}, or set another study_name or store",
              store_path, job.study_name, job.source_path.string());
    return 0;
  }
  std::vector<study::SettingsDifference> differences = study::settings_differences(*settings, current);
  for (study::SettingsDifference& d : study::search_space_differences(store.study_distributions(study_id), space)) {
    differences.push_back(std::move(d));
  }
  if (!differences.empty()) {
    const std::string message =
        study::format_resume_refusal(store_path, job.study_name, job.source_path.string(), differences);
    ABL_CHECK(options.force, InputError, "{}", message);
    fmt::print("Warning (--force): {}\n", message);
  }
  const auto stored_n_trials = settings->find("n_trials");
  return stored_n_trials != settings->end() && stored_n_trials->is_number_integer() ? stored_n_trials->get<int64_t>()
                                                                                      : 0;
}

// Creates the study, or resumes it: RUNNING trials of a dead run become FAIL
// (interrupted) and their parameters are run again first (DESIGN.md §5). The
// settings attr is (re)written with this run's budget, as Heretic's "run
// additional trials" does.
OpenedStudy open_study(const config::Job& job, const RunOptions& options, study::SqliteStore& store,
                       const std::vector<study::ParamSpec>& space, const std::vector<study::ParamValues>& enqueued) {
  OpenedStudy opened;
  nlohmann::json settings = config::job_to_json(job);
  if (auto existing = store.find_study(job.study_name)) {
    opened.study_id = *existing;
    const int64_t stored_n_trials = check_resumable(job, options, store, opened.study_id, space, settings);
    // Without --n-trials a resumed run keeps a budget an earlier --n-trials raised.
    opened.n_trials = options.n_trials.value_or(std::max(job.n_trials, stored_n_trials));
    fmt::print("Resuming existing study \"{}\" in {}.\n", job.study_name, store.path().string());
    store.fail_running_trials(opened.study_id, std::string(study::kInterruptedReason));
    const std::vector<study::Trial> trials = store.load_trials(opened.study_id);
    requeue_interrupted(trials, space, opened);
    if (!opened.requeued.empty()) fmt::print("* {} interrupted trial(s) will run again first\n", opened.requeued.size());
    queue_enqueued(enqueued, trials, space, opened);
    settings["n_trials"] = opened.n_trials;
    store.set_study_user_attr(opened.study_id, std::string(study::kSettingsAttr), settings);
    const int64_t n_complete = store.count_trials(opened.study_id, study::TrialState::COMPLETE);
    store.set_study_user_attr(opened.study_id, std::string(study::kFinishedAttr), n_complete >= opened.n_trials);
    fmt::print("* {} of {} trials complete\n", n_complete, opened.n_trials);
    return opened;
  }
  opened.n_trials = options.n_trials.value_or(job.n_trials);
  settings["n_trials"] = opened.n_trials;
  nlohmann::json attrs = {{study::kSettingsAttr, settings}, {study::kFinishedAttr, false}};
  opened.study_id = store.create_study(job.study_name, {study::Direction::MINIMIZE, study::Direction::MINIMIZE}, attrs);
  const auto names = study::objective_names(job.objectives);
  store.set_study_system_attr(opened.study_id, std::string(study::kMetricNamesAttr),
                              nlohmann::json::array({names[0], names[1]}));
  queue_enqueued(enqueued, {}, space, opened);
  return opened;
}

}  // namespace

RunOutcome run_study(const config::Job& job, const RunOptions& options, mpi::WorkerPool& pool) {
  // Everything that can be wrong with the input is found before the store is
  // created: prompt sets, the model path, the model itself (on the workers).
  const StudyInputs inputs = load_study_inputs(job);
  // One run per store (StoreRunLock): a second run is refused before it loads
  // the model. A store that does not exist yet is locked once created.
  std::optional<study::StoreRunLock> run_lock;
  if (std::filesystem::exists(job.store)) run_lock.emplace(job.store);
  fmt::print("Loaded prompts: {} good, {} bad (directions); {} good, {} bad (evaluation)\n", inputs.good.size(),
             inputs.bad.size(), inputs.good_evaluation.size(), inputs.bad_evaluation.size());

  fmt::print("Loading model {}{} on {} worker(s)...\n", job.model,
             job.adapter ? fmt::format(" with adapter {}", *job.adapter) : std::string(), pool.n_workers());
  if (job.batch_size == 0) fmt::print("Determining optimal batch size on each worker...\n");
  std::vector<Ready> ready;
  for (const mpi::Message& reply : broadcast(pool, to_message(setup_task(job, inputs)), mpi::MessageType::ready)) {
    ready.push_back(from_message<Ready>(reply));
  }
  const int64_t n_layers = ready.front().n_layers;
  for (size_t worker_idx = 0; worker_idx < ready.size(); ++worker_idx) {
    print_worker_ready(pool.worker_name(static_cast<int>(worker_idx)), ready[worker_idx]);
  }
  fmt::print("* Transformer model with {} layers\n", n_layers);
  const std::vector<study::ParamSpec> space = study::heretic_search_space(n_layers);
  const std::vector<study::ParamValues> enqueued = encode_enqueued(job, space);

  std::unique_ptr<study::SqliteStore> store = study::SqliteStore::open(job.store);
  // A store this run created. The lock outlives the store (declared first),
  // as StoreRunLock requires.
  if (!run_lock) run_lock.emplace(job.store);
  OpenedStudy opened = open_study(job, options, *store, space, enqueued);
  const int64_t n_trials = opened.n_trials;

  PreparationResult prepared = prepare_study(job, inputs, pool);
  send_trial_context(job, inputs, prepared.preparation, pool);

  const RunOutcome outcome = run_trial_loop(TrialLoopInputs{.job = job,
                                 .store = *store,
                                 .study_id = opened.study_id,
                                 .space = space,
                                 .refusals_baseline = prepared.preparation.refusals_baseline,
                                 .n_bad_evaluation_prompts = prepared.preparation.n_bad_evaluation_prompts,
                                 .n_trials = n_trials,
                                 .requeued = std::move(opened.requeued),
                                 .requeued_system_attrs = std::move(opened.requeued_system_attrs),
                                 .bad_evaluation = inputs.bad_evaluation},
                 pool);

  const std::vector<study::Trial> trials = store->load_trials(opened.study_id);
  const int64_t n_complete = store->count_trials(opened.study_id, study::TrialState::COMPLETE);
  store->set_study_user_attr(opened.study_id, std::string(study::kFinishedAttr), n_complete >= n_trials);
  if (n_complete >= n_trials) fmt::print("\nOptimization finished!\n");
  fmt::print("\nPareto front of refusals and KL divergence ({} complete trials, store {}):\n", n_complete,
             store->path().string());
  fmt::print("{}", study::format_pareto_front(study::pareto_front(trials), prepared.preparation.n_bad_evaluation_prompts));
  return outcome;
}

}  // namespace abliterate::runner
