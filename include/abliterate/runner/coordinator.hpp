// Module runner: the study's orchestration: workers and their model replica, preparation, the asynchronous trial loop.
// Must not know: the command line: only cli and main.cpp include it.
//
// Rank 0's whole study (DESIGN.md §2): inputs, worker setup, store, the
// preparation phase, the trial loop and the Pareto front. It composes the
// parts (study_inputs, preparation, trial_loop, the store) and owns none of
// their logic.
#pragma once

#include <cstdint>
#include <optional>

#include "abliterate/config/job.hpp"
#include "abliterate/mpi/worker_pool.hpp"
#include "abliterate/runner/run_outcome.hpp"

namespace abliterate::runner {

struct RunOptions {
  std::optional<int64_t> n_trials;  // overrides the job's budget (raise it to run additional trials)
  bool force = false;               // resume even when model, prompts or search space differ from the stored settings
};

// Runs or resumes the study; says how the trial loop ended. Bad input is
// rejected before the store is created or touched. Throws Error. The caller
// stops the workers (StopWorkersOnExit), and ends every rank when the outcome
// says workers were abandoned.
RunOutcome run_study(const config::Job& job, const RunOptions& options, mpi::WorkerPool& pool);

}  // namespace abliterate::runner
