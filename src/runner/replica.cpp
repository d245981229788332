#include "abliterate/runner/replica.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <limits>
#include <thread>

#include "abliterate/common/error.hpp"
#include "abliterate/common/error_kind.hpp"
#include "abliterate/common/peak_memory.hpp"
#include "abliterate/config/job_loader.hpp"
#include "abliterate/runner/model_dtype.hpp"
#include "abliterate/evaluate/batch_size_search.hpp"
#include "abliterate/evaluate/evaluator.hpp"
#include "abliterate/evaluate/kl_divergence.hpp"
#include "abliterate/method/ablation.hpp"
#include "abliterate/method/residuals.hpp"
#include "abliterate/method/trial_row_hooks.hpp"
#include "abliterate/model/cpu_threads.hpp"
#include "abliterate/model/model.hpp"
#include "abliterate/study/search_space.hpp"

namespace abliterate::runner {
namespace {

// DESIGN.md §1: cuda:(local_rank % device_count) when CUDA is there, else CPU.
torch::Device choose_device(const std::string& setting, const mpi::WorkerPlacement& placement) {
  const bool has_cuda = torch::cuda::is_available();
  if (setting == "cpu" || (setting == "auto" && !has_cuda)) return torch::kCPU;
  ABL_CHECK(has_cuda, InputError, "device: \"cuda\" was asked for but no CUDA device is visible");
  const auto n_devices = static_cast<int>(torch::cuda::device_count());
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(placement.local_rank % n_devices));
}

// Splits the node's cores between the worker ranks on it: more intra-op
// threads than cores make OpenMP spin-wait and run many times slower. An
// OMP_NUM_THREADS in the environment is the user's choice and stands.
void set_cpu_threads(const mpi::WorkerPlacement& placement) {
  if (std::getenv("OMP_NUM_THREADS") != nullptr) {
    model::configure_cpu_threads(0);
    return;
  }
  const unsigned hardware = std::max(1u, std::thread::hardware_concurrency());
  model::configure_cpu_threads(std::max(1, static_cast<int>(hardware) / std::max(1, placement.local_workers)));
}

// The integration tests' faults, each on the trial whose store number an
// environment variable names: ABLITERATE_TEST_NAN_TRIAL ablates NaN
// directions, so its weights and logits are NaN, as an overflowing dtype or a
// broken kernel would make them (tests/integration/trial_failure.sh);
// ABLITERATE_TEST_HANG_TRIAL never replies, as a wedged GPU or a deadlocked
// library would not (tests/integration/worker_timeout.sh).
bool is_test_fault_trial(const char* variable, const TrialTask& task) {
  const char* number = std::getenv(variable);
  return number != nullptr && std::to_string(task.number) == number;
}

}  // namespace

Replica::Replica(mpi::WorkerPlacement placement) : placement_(placement) {}
Replica::~Replica() = default;

std::vector<std::string> Replica::render(const std::vector<data::Prompt>& prompts,
                                         const std::string& response_prefix) const {
  std::vector<std::string> rendered;
  rendered.reserve(prompts.size());
  for (const data::Prompt& prompt : prompts) {
    rendered.push_back(model_->format_chat(prompt.system, prompt.user) + response_prefix);
  }
  return rendered;
}

Ready Replica::load(const SetupTask& task) {
  // A sweep's worker serves one study after another: nothing of the last
  // study's model or context may survive into the next.
  model_.reset();
  evaluator_.reset();
  directions_ = torch::Tensor();
  baseline_logprobs_ = torch::Tensor();
  job_ = std::make_unique<config::Job>(task.job);
  ABL_CHECK(job_->quantization == config::Quantization::none, InputError,
            "quantization: \"{}\" is not supported; load a quantized GGUF file instead (quantization: none)",
            config::to_string(job_->quantization));
  set_cpu_threads(placement_);
  const torch::Device device = choose_device(job_->device, placement_);
  std::string errors;
  for (config::DType dtype : job_->dtypes) {  // Heretic tries the dtypes in order (method spec §3.6)
    try {
      model_ = model::Model::load(job_->resolve_input(job_->model),
                                  {torch_dtype(dtype), device,
                                   job_->adapter ? job_->resolve_input(*job_->adapter) : std::filesystem::path()});
      break;
    } catch (const NumericError& e) {
      errors += fmt::format("\n  {}: {}", config::to_string(dtype), e.what());
    }
  }
  ABL_CHECK(model_ != nullptr, InputError, "failed to load the model with every configured dtype:{}", errors);
  Ready ready;
  if (job_->batch_size == 0) {
    // Each worker times its own device, so unlike GPUs may settle on unlike sizes.
    const evaluate::BatchSizeChoice choice = evaluate::choose_batch_size(
        *model_, render(task.batch_size_prompts, ""), job_->max_batch_size, job_->max_response_length);
    job_->batch_size = choice.batch_size;
    for (const evaluate::BatchSizeTrial& trial : choice.trials) {
      ready.batch_size_trials.push_back(BatchSizeTiming{
          .batch_size = trial.batch_size, .tokens_per_second = trial.tokens_per_second, .error = trial.error});
    }
  }
  evaluator_ = std::make_unique<evaluate::Evaluator>(
      *model_, evaluate::RefusalDetector(job_->refusal_markers),
      evaluate::EvaluatorOptions{.batch_size = job_->batch_size, .max_response_length = job_->max_response_length});
  const model::ModelConfig& cfg = model_->config();
  ready.n_layers = cfg.n_layers;
  ready.hidden_size = cfg.hidden_size;
  ready.vocab_size = cfg.vocab_size;
  ready.device = model_->device().str();
  ready.threads = torch::get_num_threads();
  ready.batch_size = job_->batch_size;
  ready.peak_rss_bytes = peak_rss_bytes();
  return ready;
}

ResidualSumsReply Replica::residual_sums(const ResidualsTask& task) const {
  ABL_ASSERT(model_ != nullptr, "residuals before setup");
  c10::InferenceMode guard;
  const std::vector<std::string> rendered = render(task.prompts, task.response_prefix);
  method::ResidualSums sums;
  const auto batch_size = static_cast<size_t>(job_->batch_size);
  for (size_t begin = 0; begin < rendered.size(); begin += batch_size) {
    const std::vector<std::string> batch(rendered.begin() + static_cast<std::ptrdiff_t>(begin),
                                         rendered.begin() + static_cast<std::ptrdiff_t>(std::min(rendered.size(), begin + batch_size)));
    model::PrefillOutput out = model_->prefill(model_->tokenize(batch), nullptr, /*capture_hidden=*/true);
    sums.add(method::winsorize(out.hidden.to(torch::kCPU), job_->winsorization_quantile));
  }
  return ResidualSumsReply{.count = sums.count(), .sums = sums.sum()};
}

LogprobsReply Replica::first_token_logprobs(const LogprobsTask& task) const {
  ABL_ASSERT(evaluator_ != nullptr, "logprobs before setup");
  return LogprobsReply{.logprobs = evaluator_->first_token_logprobs(render(task.prompts, task.response_prefix), nullptr)};
}

RefusalsReply Replica::count_refusals(const RefusalsTask& task) const {
  ABL_ASSERT(evaluator_ != nullptr, "refusals before setup");
  const std::vector<std::string> rendered = render(task.prompts, task.response_prefix);
  RefusalsReply reply{.refusals = 0, .n = static_cast<int64_t>(rendered.size()), .texts = {}};
  if (!task.with_texts) {
    reply.refusals = evaluator_->count_refusals(rendered, nullptr);
    return reply;
  }
  WholeResponses whole = whole_responses(rendered, nullptr);
  reply.refusals = whole.refusals;
  reply.texts = std::move(whole.texts);
  return reply;
}

Replica::WholeResponses Replica::whole_responses(const std::vector<std::string>& rendered,
                                                 const model::ProjectionHook* hook) const {
  // Whole responses for printing (print_responses): no early stop, which
  // would cut a refusal's text after its marker; the count is the same.
  const evaluate::RefusalDetector detector(job_->refusal_markers);
  const evaluate::Evaluator whole(*model_, detector,
                                  evaluate::EvaluatorOptions{.batch_size = job_->batch_size,
                                                             .max_response_length = job_->max_response_length,
                                                             .stop_at_marker = false});
  WholeResponses out;
  out.texts = whole.responses(rendered, hook);
  out.refusals = std::count_if(out.texts.begin(), out.texts.end(),
                               [&](const std::string& text) { return detector.is_refusal(text); });
  return out;
}

ResponsesReply Replica::prefix_probe_responses(const ResponsesTask& task) const {
  ABL_ASSERT(evaluator_ != nullptr, "responses before setup");
  return ResponsesReply{.texts = evaluator_->prefix_probe_responses(render(task.prompts, task.response_prefix), nullptr)};
}

void Replica::set_trial_context(const ContextTask& task) {
  ABL_ASSERT(model_ != nullptr, "context before setup");
  directions_ = task.directions.to(model_->device());
  baseline_logprobs_ = task.baseline_logprobs;
  good_evaluation_ = render(task.good_evaluation, task.response_prefix);
  bad_evaluation_ = render(task.bad_evaluation, task.response_prefix);
}

method::AblationHook Replica::trial_hook(const TrialTask& task) const {
  ABL_ASSERT(directions_.defined(), "trial before context");
  const config::AblationParams params =
      study::decode_params(study::heretic_search_space(model_->config().n_layers), task.values);
  while (is_test_fault_trial("ABLITERATE_TEST_HANG_TRIAL", task)) std::this_thread::sleep_for(std::chrono::seconds(1));
  const torch::Tensor directions = is_test_fault_trial("ABLITERATE_TEST_NAN_TRIAL", task)
                                       ? directions_ * std::numeric_limits<float>::quiet_NaN()
                                       : directions_;
  return method::AblationHook(*model_, directions, params, job_->row_normalization);
}

TrialResult Replica::finish_result(int64_t trial_id, std::chrono::steady_clock::time_point started) const {
  TrialResult result;
  result.trial_id = trial_id;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  result.peak_rss_bytes = peak_rss_bytes();
  result.batch_size = evaluator_->batch_size();
  return result;
}

TrialResult Replica::run_trial(const TrialTask& task) const {
  const auto started = std::chrono::steady_clock::now();
  const method::AblationHook hook = trial_hook(task);
  const torch::Tensor logprobs = evaluator_->first_token_logprobs(good_evaluation_, &hook);  // float32 [N, V]
  const double kl = evaluate::kl_divergence(baseline_logprobs_, logprobs);
  int64_t refusals = 0;
  std::vector<std::string> texts;
  if (job_->print_responses) {  // Heretic prints every trial's responses too
    WholeResponses whole = whole_responses(bad_evaluation_, &hook);
    refusals = whole.refusals;
    texts = std::move(whole.texts);
  } else {
    refusals = evaluator_->count_refusals(bad_evaluation_, &hook);
  }
  TrialResult result = finish_result(task.trial_id, started);
  result.kl_divergence = kl;
  result.refusals = refusals;
  result.texts = std::move(texts);
  return result;
}

TrialsReply Replica::run_trials(const TrialsTask& task) const {
  const auto started = std::chrono::steady_clock::now();
  TrialsReply reply;
  if (!job_->print_responses && task.trials.size() > 1) {
    try {
      std::vector<method::AblationHook> hooks;
      hooks.reserve(task.trials.size());
      for (const TrialTask& trial : task.trials) hooks.push_back(trial_hook(trial));
      std::vector<const method::AblationHook*> slots;
      for (const method::AblationHook& hook : hooks) slots.push_back(&hook);
      method::TrialRowHooks row_hooks(slots);
      const auto n_slots = static_cast<int64_t>(slots.size());
      const std::vector<torch::Tensor> logprobs =
          evaluator_->first_token_logprobs(good_evaluation_, row_hooks, n_slots);  // float32 [N, V] each
      std::vector<double> kl;
      for (const torch::Tensor& trial_logprobs : logprobs) {
        kl.push_back(evaluate::kl_divergence(baseline_logprobs_, trial_logprobs));
      }
      const std::vector<int64_t> refusals = evaluator_->count_refusals(bad_evaluation_, row_hooks, n_slots);
      for (size_t slot = 0; slot < task.trials.size(); ++slot) {
        TrialResult result = finish_result(task.trials[slot].trial_id, started);
        result.kl_divergence = kl[slot];
        result.refusals = refusals[slot];
        reply.results.push_back(std::move(result));
      }
      return reply;
    } catch (const std::exception& e) {
      fmt::print(stderr, "abliterate: {} trials together failed ({}); running them one at a time\n",
                 task.trials.size(), e.what());
    }
  }
  for (const TrialTask& trial : task.trials) {
    try {
      reply.results.push_back(run_trial(trial));
    } catch (const std::exception& e) {
      reply.failures.push_back(Failure{.kind = kind_of(e), .reason = e.what(), .trial_id = trial.trial_id});
    }
  }
  return reply;
}

}  // namespace abliterate::runner
