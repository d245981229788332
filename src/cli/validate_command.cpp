#include <fmt/format.h>

#include "abliterate/cli/commands.hpp"
#include "abliterate/config/job_loader.hpp"
#include "abliterate/runner/study_inputs.hpp"
#include "abliterate/model/lora_adapter.hpp"

namespace abliterate::cli {

int validate_command(const std::string& job_path) {
  const config::Job job = config::load_job(job_path);
  const runner::StudyInputs inputs = runner::load_study_inputs(job);
  std::string adapter;
  if (job.adapter) {
    // The adapter's own checks (config, keys, ranks); its fit to the model is checked when the model loads.
    const model::LoraAdapter lora = model::LoraAdapter::open(job.resolve_input(*job.adapter));
    adapter = fmt::format(" with adapter {} ({} matrices)", *job.adapter, lora.updates().size());
  }
  fmt::print("{}: ok (model {}{}; {} / {} direction prompts, {} / {} evaluation prompts; {} trials)\n", job_path,
             job.model, adapter, inputs.good.size(), inputs.bad.size(), inputs.good_evaluation.size(),
             inputs.bad_evaluation.size(), job.n_trials);
  return 0;
}

}  // namespace abliterate::cli
