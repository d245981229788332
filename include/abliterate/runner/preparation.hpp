// The preparation phase (DESIGN.md §2.3), run by rank 0 over the workers:
// residual sums of the direction prompts reduced into refusal directions,
// baseline first-token log-probabilities and the baseline refusal count. The
// result is cached in HDF5 under the inputs' fingerprint; a later run with
// the same fingerprint reads it instead.
#pragma once

#include <string>

#include "abliterate/cache/residual_cache.hpp"
#include "abliterate/config/job.hpp"
#include "abliterate/runner/study_inputs.hpp"
#include "abliterate/mpi/worker_pool.hpp"

namespace abliterate::runner {

struct PreparationResult {
  cache::Preparation preparation;
  bool from_cache = false;
};

// Workers must have answered `setup`. Throws Error when a worker fails.
PreparationResult prepare_study(const config::Job& job, const StudyInputs& inputs, mpi::WorkerPool& pool);

// Sends directions, baseline log-probs and the evaluation prompts to every
// worker, so each can run trials alone.
void send_trial_context(const config::Job& job, const StudyInputs& inputs, const cache::Preparation& preparation,
                        mpi::WorkerPool& pool);

}  // namespace abliterate::runner
