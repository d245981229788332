// `abliterate evaluate JOB --model OTHER` (Heretic's evaluate_model, method spec §1 step 11).
#include "abliterate/cli/commands.hpp"
#include "abliterate/common/error.hpp"
#include "abliterate/config/job_loader.hpp"
#include "abliterate/runner/model_evaluation.hpp"

namespace abliterate::cli {

int evaluate_command(const EvaluateArgs& args) {
  const config::Job job = config::load_job(args.job_path);
  // --model is a path from the current directory; the job's evaluate_model,
  // like every input of the job, from the job file's folder.
  // --adapter alone measures the job's own model with that adapter merged
  // (a fine-tune against the model it was tuned from).
  std::filesystem::path other;
  if (args.model) {
    other = *args.model;
  } else if (job.evaluate_model) {
    other = job.resolve_input(*job.evaluate_model);
  } else {
    ABL_CHECK(args.adapter.has_value(), InputError,
              "{}: nothing to evaluate: pass --model PATH, --adapter DIR, or set evaluate_model in the job",
              args.job_path);
    other = job.resolve_input(job.model);
  }
  runner::evaluate_model(job, other, args.adapter ? std::filesystem::absolute(*args.adapter) : std::filesystem::path());
  return 0;
}

}  // namespace abliterate::cli
