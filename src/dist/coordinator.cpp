#include "abliterate/dist/coordinator.hpp"

#include <map>

#include <fmt/format.h>

#include "abliterate/common/error.hpp"
#include "abliterate/config/job_loader.hpp"
#include "abliterate/dist/preparation.hpp"
#include "abliterate/dist/study_inputs.hpp"
#include "abliterate/dist/task_runner.hpp"
#include "abliterate/dist/trial_loop.hpp"
#include "abliterate/study/objectives.hpp"
#include "abliterate/study/pareto.hpp"
#include "abliterate/study/sqlite_store.hpp"

namespace abliterate::dist {
namespace {

struct OpenedStudy {
  int64_t study_id = 0;
  std::vector<study::ParamValues> requeued;
};

// Creates the study, or resumes it: RUNNING trials of a dead run become FAIL
// (interrupted) and their parameters are run again first (DESIGN.md §5).
OpenedStudy open_study(const config::Job& job, study::SqliteStore& store, const std::vector<study::ParamSpec>& space) {
  OpenedStudy opened;
  if (auto existing = store.find_study(job.study_name)) {
    opened.study_id = *existing;
    fmt::print("Resuming existing study \"{}\" in {}.\n", job.study_name, store.path().string());
    for (const study::Trial& trial : store.fail_running_trials(opened.study_id, "interrupted")) {
      std::map<std::string, double> by_name(trial.params.begin(), trial.params.end());
      study::ParamValues values;
      for (const study::ParamSpec& spec : space) {
        if (!by_name.count(spec.name)) break;
        values.push_back(by_name[spec.name]);
      }
      if (values.size() == space.size()) opened.requeued.push_back(std::move(values));
    }
    if (!opened.requeued.empty()) fmt::print("* {} interrupted trial(s) will run again first\n", opened.requeued.size());
    return opened;
  }
  nlohmann::json attrs = {{"settings", config::job_to_json(job)}, {"finished", false}};
  opened.study_id = store.create_study(job.study_name, {study::Direction::MINIMIZE, study::Direction::MINIMIZE}, attrs);
  const auto names = study::objective_names(job.objectives);
  store.set_study_system_attr(opened.study_id, "study:metric_names", nlohmann::json::array({names[0], names[1]}));
  return opened;
}

}  // namespace

void run_study(const config::Job& job, const RunOptions& options, WorkerPool& pool) {
  // Everything that can be wrong with the input is found before the store is
  // created: prompt sets, the model path, the model itself (on the workers).
  const StudyInputs inputs = load_study_inputs(job);
  fmt::print("Loaded prompts: {} good, {} bad (directions); {} good, {} bad (evaluation)\n", inputs.good.size(),
             inputs.bad.size(), inputs.good_evaluation.size(), inputs.bad_evaluation.size());

  fmt::print("Loading model {} on {} worker(s)...\n", job.model, pool.n_workers());
  Message setup{MessageType::setup, {{"job", config::job_to_json(job)}, {"job_path", job.source_path.string()}}, {}};
  const std::vector<Message> ready = broadcast(pool, setup, MessageType::ready);
  const int64_t n_layers = ready.front().meta.at("n_layers").get<int64_t>();
  for (size_t worker_idx = 0; worker_idx < ready.size(); ++worker_idx) {
    fmt::print("* {}: {} ({} threads)\n", pool.worker_name(static_cast<int>(worker_idx)),
               ready[worker_idx].meta.value("device", "?"), ready[worker_idx].meta.value("threads", 0));
  }
  fmt::print("* Transformer model with {} layers\n", n_layers);
  const std::vector<study::ParamSpec> space = study::heretic_search_space(n_layers);

  std::unique_ptr<study::SqliteStore> store = study::SqliteStore::open(job.store);
  OpenedStudy opened = open_study(job, *store, space);
  const int64_t n_trials = options.n_trials.value_or(job.n_trials);

  PreparationResult prepared = prepare_study(job, inputs, pool);
  send_trial_context(job, inputs, prepared.preparation, pool);

  run_trial_loop(TrialLoopInputs{.job = job,
                                 .store = *store,
                                 .study_id = opened.study_id,
                                 .space = space,
                                 .refusals_baseline = prepared.preparation.refusals_baseline,
                                 .n_bad_evaluation_prompts = prepared.preparation.n_bad_evaluation_prompts,
                                 .n_trials = n_trials,
                                 .requeued = std::move(opened.requeued)},
                 pool);

  const std::vector<study::Trial> trials = store->load_trials(opened.study_id);
  const int64_t n_complete = store->count_trials(opened.study_id, study::TrialState::COMPLETE);
  store->set_study_user_attr(opened.study_id, "finished", n_complete >= n_trials);
  if (n_complete >= n_trials) fmt::print("\nOptimization finished!\n");
  fmt::print("\nPareto front of refusals and KL divergence ({} complete trials, store {}):\n", n_complete,
             store->path().string());
  fmt::print("{}", study::format_pareto_front(study::pareto_front(trials), prepared.preparation.n_bad_evaluation_prompts));
}

}  // namespace abliterate::dist
