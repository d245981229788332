#include "abliterate/runner/worker.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <limits>
#include <thread>

#include "abliterate/common/error.hpp"
#include "abliterate/common/error_kind.hpp"
#include "abliterate/config/job_loader.hpp"
#include "abliterate/runner/model_dtype.hpp"
#include "abliterate/evaluate/batch_size_search.hpp"
#include "abliterate/evaluate/evaluator.hpp"
#include "abliterate/evaluate/kl_divergence.hpp"
#include "abliterate/method/ablation.hpp"
#include "abliterate/method/residuals.hpp"
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
// threads than cores make OpenMP spin-wait and run many times slower.
void set_cpu_threads(const mpi::WorkerPlacement& placement) {
  const unsigned hardware = std::max(1u, std::thread::hardware_concurrency());
  model::configure_cpu_threads(std::max(1, static_cast<int>(hardware) / std::max(1, placement.local_workers)));
}

std::vector<std::string> render_prompts(const model::Model& model, const nlohmann::json& prompts,
                                        const std::string& response_prefix) {
  std::vector<std::string> rendered;
  rendered.reserve(prompts.size());
  for (const auto& pair : prompts) {
    rendered.push_back(model.format_chat(pair.at(0).get<std::string>(), pair.at(1).get<std::string>()) +
                       response_prefix);
  }
  return rendered;
}

// The integration tests' faults, each on the trial whose store number an
// environment variable names: ABLITERATE_TEST_NAN_TRIAL ablates NaN
// directions, so its weights and logits are NaN, as an overflowing dtype or a
// broken kernel would make them (tests/integration/trial_failure.sh);
// ABLITERATE_TEST_HANG_TRIAL never replies, as a wedged GPU or a deadlocked
// library would not (tests/integration/worker_timeout.sh).
bool is_test_fault_trial(const char* variable, const mpi::Message& task) {
  const char* number = std::getenv(variable);
  return number != nullptr && std::to_string(task.meta.value("number", int64_t{-1})) == number;
}

nlohmann::json optional_json(const std::optional<double>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

}  // namespace

Worker::Worker(mpi::WorkerPlacement placement) : placement_(placement) {}
Worker::~Worker() = default;

std::optional<mpi::Message> Worker::handle(const mpi::Message& task) {
  try {
    switch (task.type) {
      case mpi::MessageType::setup: return on_setup(task);
      case mpi::MessageType::residuals: return on_residuals(task);
      case mpi::MessageType::logprobs: return on_logprobs(task);
      case mpi::MessageType::refusals: return on_refusals(task);
      case mpi::MessageType::responses: return on_responses(task);
      case mpi::MessageType::context: return on_context(task);
      case mpi::MessageType::trial: return on_trial(task);
      case mpi::MessageType::stop: return std::nullopt;
      default:
        return mpi::failure_message(ErrorKind::format, fmt::format("unexpected message type {}", to_string(task.type)));
    }
  } catch (const std::exception& e) {
    // A failed trial is a result, not the end of the worker (DESIGN.md §2.5).
    if (task.type == mpi::MessageType::trial) {
      return mpi::failure_message(kind_of(e), e.what(), task.meta.at("trial_id").get<int64_t>());
    }
    return mpi::failure_message(kind_of(e), e.what());
  }
}

mpi::Message Worker::on_setup(const mpi::Message& task) {
  // A sweep's worker serves one study after another: nothing of the last
  // study's model or context may survive into the next.
  model_.reset();
  evaluator_.reset();
  directions_ = torch::Tensor();
  baseline_logprobs_ = torch::Tensor();
  job_ = std::make_unique<config::Job>(
      config::job_from_json(task.meta.at("job"), task.meta.at("job_path").get<std::string>()));
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
  nlohmann::json batch_size_trials = nlohmann::json::array();
  if (job_->batch_size == 0) {
    // Each worker times its own device, so unlike GPUs may settle on unlike sizes.
    const evaluate::BatchSizeChoice choice =
        evaluate::choose_batch_size(*model_, render_prompts(*model_, task.meta.at("batch_size_prompts"), ""),
                                    job_->max_batch_size, job_->max_response_length);
    job_->batch_size = choice.batch_size;
    for (const evaluate::BatchSizeTrial& trial : choice.trials) {
      batch_size_trials.push_back({{"batch_size", trial.batch_size},
                                   {"tokens_per_second", optional_json(trial.tokens_per_second)},
                                   {"error", trial.error}});
    }
  }
  evaluator_ = std::make_unique<evaluate::Evaluator>(
      *model_, evaluate::RefusalDetector(job_->refusal_markers),
      evaluate::EvaluatorOptions{.batch_size = job_->batch_size, .max_response_length = job_->max_response_length});
  const model::ModelConfig& cfg = model_->config();
  return mpi::Message{mpi::MessageType::ready,
                 {{"n_layers", cfg.n_layers},
                  {"hidden_size", cfg.hidden_size},
                  {"vocab_size", cfg.vocab_size},
                  {"device", model_->device().str()},
                  {"threads", torch::get_num_threads()},
                  {"batch_size", job_->batch_size},
                  {"batch_size_trials", std::move(batch_size_trials)}},
                 {}};
}

mpi::Message Worker::on_residuals(const mpi::Message& task) {
  ABL_ASSERT(model_ != nullptr, "residuals before setup");
  c10::InferenceMode guard;
  const std::vector<std::string> rendered =
      render_prompts(*model_, task.meta.at("prompts"), task.meta.value("response_prefix", ""));
  method::ResidualSums sums;
  const auto batch_size = static_cast<size_t>(job_->batch_size);
  for (size_t begin = 0; begin < rendered.size(); begin += batch_size) {
    const std::vector<std::string> batch(rendered.begin() + static_cast<std::ptrdiff_t>(begin),
                                         rendered.begin() + static_cast<std::ptrdiff_t>(std::min(rendered.size(), begin + batch_size)));
    model::PrefillOutput out = model_->prefill(model_->tokenize(batch), nullptr, /*capture_hidden=*/true);
    sums.add(method::winsorize(out.hidden.to(torch::kCPU), job_->winsorization_quantile));
  }
  return mpi::Message{mpi::MessageType::residual_sums,
                 {{"role", task.meta.at("role")}, {"count", sums.count()}},
                 {sums.sum()}};
}

mpi::Message Worker::on_logprobs(const mpi::Message& task) {
  ABL_ASSERT(evaluator_ != nullptr, "logprobs before setup");
  const std::vector<std::string> rendered =
      render_prompts(*model_, task.meta.at("prompts"), task.meta.value("response_prefix", ""));
  return mpi::Message{mpi::MessageType::logprobs_result,
                 {{"offset", task.meta.at("offset")}},
                 {evaluator_->first_token_logprobs(rendered, nullptr)}};
}

mpi::Message Worker::on_refusals(const mpi::Message& task) {
  ABL_ASSERT(evaluator_ != nullptr, "refusals before setup");
  const std::vector<std::string> rendered =
      render_prompts(*model_, task.meta.at("prompts"), task.meta.value("response_prefix", ""));
  if (!task.meta.value("with_texts", false)) {
    return mpi::Message{mpi::MessageType::refusal_count,
                   {{"refusals", evaluator_->count_refusals(rendered, nullptr)},
                    {"n", static_cast<int64_t>(rendered.size())}},
                   {}};
  }
  const WholeResponses whole = whole_responses(rendered, nullptr);
  return mpi::Message{mpi::MessageType::refusal_count,
                 {{"refusals", whole.refusals}, {"n", static_cast<int64_t>(rendered.size())}, {"texts", whole.texts}},
                 {}};
}

Worker::WholeResponses Worker::whole_responses(const std::vector<std::string>& rendered,
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

mpi::Message Worker::on_responses(const mpi::Message& task) {
  ABL_ASSERT(evaluator_ != nullptr, "responses before setup");
  const std::vector<std::string> rendered =
      render_prompts(*model_, task.meta.at("prompts"), task.meta.value("response_prefix", ""));
  return mpi::Message{mpi::MessageType::responses_result, {{"texts", evaluator_->prefix_probe_responses(rendered, nullptr)}}, {}};
}

mpi::Message Worker::on_context(const mpi::Message& task) {
  ABL_ASSERT(model_ != nullptr, "context before setup");
  ABL_CHECK(task.tensors.size() == 2, FormatError, "context message: expected 2 tensors, got {}",
            task.tensors.size());
  directions_ = task.tensors[0].to(model_->device());
  baseline_logprobs_ = task.tensors[1];
  const std::string prefix = task.meta.value("response_prefix", "");
  good_evaluation_ = render_prompts(*model_, task.meta.at("good_evaluation"), prefix);
  bad_evaluation_ = render_prompts(*model_, task.meta.at("bad_evaluation"), prefix);
  return mpi::Message{mpi::MessageType::ready, {{"n_layers", model_->config().n_layers}}, {}};
}

mpi::Message Worker::on_trial(const mpi::Message& task) {
  ABL_ASSERT(directions_.defined(), "trial before context");
  const auto started = std::chrono::steady_clock::now();
  const int64_t trial_id = task.meta.at("trial_id").get<int64_t>();
  const auto values = task.meta.at("values").get<std::vector<double>>();
  const config::AblationParams params =
      study::decode_params(study::heretic_search_space(model_->config().n_layers), values);
  while (is_test_fault_trial("ABLITERATE_TEST_HANG_TRIAL", task)) std::this_thread::sleep_for(std::chrono::seconds(1));
  const torch::Tensor directions = is_test_fault_trial("ABLITERATE_TEST_NAN_TRIAL", task)
                                       ? directions_ * std::numeric_limits<float>::quiet_NaN()
                                       : directions_;
  const method::AblationHook hook(*model_, directions, params, job_->row_normalization);
  const torch::Tensor logprobs = evaluator_->first_token_logprobs(good_evaluation_, &hook);  // float32 [N, V]
  const double kl = evaluate::kl_divergence(baseline_logprobs_, logprobs);
  nlohmann::json result = {{"trial_id", trial_id}, {"kl_divergence", kl}};
  if (job_->print_responses) {  // Heretic prints every trial's responses too
    WholeResponses whole = whole_responses(bad_evaluation_, &hook);
    result["refusals"] = whole.refusals;
    result["texts"] = std::move(whole.texts);
  } else {
    result["refusals"] = evaluator_->count_refusals(bad_evaluation_, &hook);
  }
  result["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return mpi::Message{mpi::MessageType::trial_result, std::move(result), {}};
}

}  // namespace abliterate::runner
