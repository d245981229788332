#include <fmt/format.h>

#include "abliterate/cli/commands.hpp"
#include "abliterate/config/job_loader.hpp"
#include "abliterate/dist/study_inputs.hpp"

namespace abliterate::cli {

int validate_command(const std::string& job_path) {
  const config::Job job = config::load_job(job_path);
  const dist::StudyInputs inputs = dist::load_study_inputs(job);
  fmt::print("{}: ok (model {}; {} / {} direction prompts, {} / {} evaluation prompts; {} trials)\n", job_path,
             job.model, inputs.good.size(), inputs.bad.size(), inputs.good_evaluation.size(),
             inputs.bad_evaluation.size(), job.n_trials);
  return 0;
}

}  // namespace abliterate::cli
