// The asynchronous trial loop (DESIGN.md §2.5), rank 0 only: whenever a
// worker is idle, sample parameters, write the trial RUNNING, send it; on the
// reply write values, attributes and COMPLETE in one transaction. A worker's
// failure marks that trial FAIL with its reason and the worker goes on.
#pragma once

#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

#include "abliterate/config/job.hpp"
#include "abliterate/data/prompt_set.hpp"
#include "abliterate/mpi/worker_pool.hpp"
#include "abliterate/runner/run_outcome.hpp"
#include "abliterate/study/search_space.hpp"
#include "abliterate/study/sqlite_store.hpp"

namespace abliterate::runner {

struct TrialLoopInputs {
  const config::Job& job;
  study::SqliteStore& store;
  int64_t study_id;
  std::vector<study::ParamSpec> space;
  int64_t refusals_baseline;
  int64_t n_bad_evaluation_prompts;
  int64_t n_trials;                       // COMPLETE trials to reach
  std::vector<study::ParamValues> requeued;  // parameters of interrupted trials, run first
  // Aligned with `requeued`: the retried trial's system attrs, Optuna's
  // `failed_trial` (first failed number) and `retry_history` (spec §4.3).
  std::vector<nlohmann::json> requeued_system_attrs;
  // The refusal prompts, printed with each trial's responses when the job sets print_responses.
  std::vector<data::Prompt> bad_evaluation;
};

// Runs until n_trials trials are COMPLETE, a stop signal arrives (the trials
// in flight get the job's grace_period, then are recorded interrupted), or a
// worker sends nothing for worker_timeout seconds (its trial is recorded
// FAIL, the others finish). Throws Error when more trials fail than the
// budget allows (a broken setup would otherwise loop forever).
RunOutcome run_trial_loop(const TrialLoopInputs& inputs, mpi::WorkerPool& pool);

}  // namespace abliterate::runner
