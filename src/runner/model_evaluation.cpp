// Heretic's evaluation mode (method spec §1 step 11) on in-process replicas.
#include "abliterate/runner/model_evaluation.hpp"

#include <fmt/format.h>

#include "abliterate/cache/residual_cache.hpp"
#include "abliterate/common/error.hpp"
#include "abliterate/common/python_repr.hpp"
#include "abliterate/config/job_loader.hpp"
#include "abliterate/runner/response_log.hpp"
#include "abliterate/runner/study_inputs.hpp"
#include "abliterate/runner/replica.hpp"
#include "abliterate/runner/worker_setup.hpp"
#include "abliterate/evaluate/kl_divergence.hpp"
#include "abliterate/method/response_prefix.hpp"

namespace abliterate::runner {
namespace {

void set_up(Replica& replica, const config::Job& job, const StudyInputs& inputs) {
  if (job.batch_size == 0) fmt::print("Determining optimal batch size...\n");
  print_worker_ready("worker", replica.load(setup_task(job, inputs)));
}

torch::Tensor logprobs(const Replica& replica, const std::vector<data::Prompt>& prompts, const std::string& prefix) {
  return replica.first_token_logprobs(LogprobsTask{.prompts = prompts, .response_prefix = prefix}).logprobs;
}

// The refusal count; with print_responses, each prompt and response is
// printed as Heretic does while counting (method spec §6.2), refusals marked.
int64_t refusals(const Replica& replica, const config::Job& job, const std::vector<data::Prompt>& prompts,
                 const std::string& prefix) {
  const RefusalsReply reply = replica.count_refusals(
      RefusalsTask{.prompts = prompts, .response_prefix = prefix, .with_texts = job.print_responses});
  if (job.print_responses) print_responses(prompts, reply.texts, job.refusal_markers);
  return reply.refusals;
}

std::string detect_prefix(const Replica& replica, const config::Job& job, const StudyInputs& inputs) {
  if (job.response_prefix) return *job.response_prefix;
  fmt::print("Checking for common response prefix...\n");
  const std::vector<data::Prompt> probe_prompts = prefix_detection_prompts(inputs);
  const method::PrefixProbe probe = [&](const std::string& prefix) {
    return replica.prefix_probe_responses(ResponsesTask{.prompts = probe_prompts, .response_prefix = prefix}).texts;
  };
  const std::string prefix = method::detect_response_prefix(probe, job.chain_of_thought_skips);
  if (prefix.empty()) {
    fmt::print("* None found\n");
  } else {
    fmt::print("* Prefix found: {}\n", python_repr(prefix));
  }
  return prefix;
}

}  // namespace

ModelEvaluation evaluate_model(const config::Job& job, const std::filesystem::path& other_model,
                               const std::filesystem::path& other_adapter) {
  ABL_CHECK(std::filesystem::exists(other_model), InputError, "--model: no such model folder or file: {}",
            other_model.string());
  const StudyInputs inputs = load_study_inputs(job);
  ModelEvaluation result;
  result.n_bad_evaluation_prompts = static_cast<int64_t>(inputs.bad_evaluation.size());
  ABL_CHECK(!inputs.good_evaluation.empty(), InputError, "{}: good_evaluation_prompts: no prompts",
            job.source_path.string());

  torch::Tensor baseline_logprobs;  // float32 [N_good_eval, V]
  if (auto cached = cache::read_preparation(job.cache, preparation_fingerprint(job, inputs))) {
    fmt::print("Using the cached prefix and baselines from {}\n", job.cache.string());
    result.baseline_from_cache = true;
    result.response_prefix = cached->response_prefix;
    result.refusals_baseline = cached->refusals_baseline;
    baseline_logprobs = cached->baseline_logprobs;
  } else {
    Replica base(mpi::WorkerPlacement{});
    fmt::print("Loading model {}...\n", job.model);
    set_up(base, job, inputs);
    result.response_prefix = detect_prefix(base, job, inputs);
    fmt::print("* Obtaining first-token probability distributions...\n");
    baseline_logprobs = logprobs(base, inputs.good_evaluation, result.response_prefix);
    fmt::print("* Counting model refusals...\n");
    result.refusals_baseline = refusals(base, job, inputs.bad_evaluation, result.response_prefix);
  }  // the base model is released here
  fmt::print("* Initial refusals: {}/{}\n", result.refusals_baseline, result.n_bad_evaluation_prompts);

  config::Job other_job = job;
  other_job.model = std::filesystem::absolute(other_model).string();
  other_job.adapter = other_adapter.empty() ? std::nullopt : std::optional(other_adapter.string());
  Replica other(mpi::WorkerPlacement{});
  fmt::print("Loading model {}{}...\n", other_model.string(),
             other_adapter.empty() ? "" : fmt::format(" with adapter {}", other_adapter.string()));
  set_up(other, other_job, inputs);
  fmt::print("* Obtaining first-token probability distributions...\n");
  const torch::Tensor other_logprobs = logprobs(other, inputs.good_evaluation, result.response_prefix);
  ABL_CHECK(other_logprobs.sizes() == baseline_logprobs.sizes(), InputError,
            "--model {}: its vocabulary has {} tokens, the job's model {}; KL divergence needs the same vocabulary",
            other_model.string(), other_logprobs.size(1), baseline_logprobs.size(1));
  result.kl_divergence = evaluate::kl_divergence(baseline_logprobs, other_logprobs);
  fmt::print("* KL divergence: {:.4f}\n", result.kl_divergence);
  fmt::print("* Counting model refusals...\n");
  result.refusals = refusals(other, job, inputs.bad_evaluation, result.response_prefix);
  fmt::print("* Refusals: {}/{}\n", result.refusals, result.n_bad_evaluation_prompts);
  return result;
}

}  // namespace abliterate::runner
