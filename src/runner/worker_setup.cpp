#include "abliterate/runner/worker_setup.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "abliterate/common/peak_memory.hpp"


namespace abliterate::runner {

SetupTask setup_task(const config::Job& job, const StudyInputs& inputs) {
  SetupTask setup{.job = job, .batch_size_prompts = {}};
  if (job.batch_size == 0) {
    const size_t n = std::min(inputs.good.size(), static_cast<size_t>(job.max_batch_size));
    setup.batch_size_prompts.assign(inputs.good.begin(), inputs.good.begin() + static_cast<std::ptrdiff_t>(n));
  }
  return setup;
}

void print_worker_ready(const std::string& worker_name, const Ready& ready) {
  fmt::print("* {}: {} ({} threads, {} resident after loading)\n", worker_name, ready.device, ready.threads,
             format_bytes(ready.peak_rss_bytes));
  if (ready.batch_size_trials.empty()) return;
  for (const BatchSizeTiming& trial : ready.batch_size_trials) {
    if (trial.tokens_per_second) {
      fmt::print("  * Trying batch size {}... Ok ({:.0f} tokens/s)\n", trial.batch_size, *trial.tokens_per_second);
    } else {
      fmt::print("  * Trying batch size {}... Failed ({})\n", trial.batch_size, trial.error);
    }
  }
  fmt::print("  * Chosen batch size: {}\n", ready.batch_size);
}

}  // namespace abliterate::runner
