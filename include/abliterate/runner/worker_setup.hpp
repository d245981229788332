// The `setup` task every worker answers first: the job, and with
// `batch_size: 0` the prompts that time batch sizes (method spec §3.5); and
// what rank 0 prints of the `ready` replies.
#pragma once

#include <string>

#include "abliterate/config/job.hpp"
#include "abliterate/runner/protocol.hpp"
#include "abliterate/runner/study_inputs.hpp"

namespace abliterate::runner {

// The setup task for `job`. With batch_size 0 it carries the first
// max_batch_size good direction prompts, which Heretic repeats to fill a batch.
SetupTask setup_task(const config::Job& job, const StudyInputs& inputs);

// One line per worker: device and threads; with batch_size 0, every tried
// batch size and the chosen one, as Heretic prints them.
void print_worker_ready(const std::string& worker_name, const Ready& ready);

}  // namespace abliterate::runner
