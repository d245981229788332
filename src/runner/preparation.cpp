#include "abliterate/runner/preparation.hpp"

#include <chrono>

#include <fmt/format.h>

#include "abliterate/common/duration.hpp"
#include "abliterate/common/error.hpp"
#include "abliterate/common/python_repr.hpp"
#include "abliterate/runner/protocol.hpp"
#include "abliterate/runner/task_runner.hpp"
#include "abliterate/method/directions.hpp"
#include "abliterate/method/residuals.hpp"
#include "abliterate/method/response_prefix.hpp"

namespace abliterate::runner {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// One task per worker-sized shard of `prompts`, each made by `make_task`
// from its shard.
template <typename MakeTask>
std::vector<mpi::Message> shard_tasks(const std::vector<data::Prompt>& prompts, size_t n_workers,
                                      const MakeTask& make_task) {
  std::vector<mpi::Message> tasks;
  for (auto [begin, end] : split_evenly(prompts.size(), n_workers)) {
    const std::vector<data::Prompt> shard(prompts.begin() + static_cast<std::ptrdiff_t>(begin),
                                          prompts.begin() + static_cast<std::ptrdiff_t>(end));
    tasks.push_back(to_message(make_task(shard)));
  }
  return tasks;
}

method::ResidualSums reduce_sums(const std::vector<mpi::Message>& replies) {
  method::ResidualSums total;
  for (const mpi::Message& reply : replies) {
    ResidualSumsReply sums = from_message<ResidualSumsReply>(reply);
    total.merge(method::ResidualSums(sums.sums, sums.count));
  }
  return total;
}

// The job's response_prefix, or the one detected on the base model's
// responses to good[:100] + bad[:100] (method spec §3.4).
std::string response_prefix(const config::Job& job, const StudyInputs& inputs, mpi::WorkerPool& pool) {
  if (job.response_prefix) return *job.response_prefix;
  fmt::print("Checking for common response prefix...\n");
  const auto start = Clock::now();
  const std::vector<data::Prompt> probe_prompts = prefix_detection_prompts(inputs);
  const auto n_workers = static_cast<size_t>(pool.n_workers());
  const method::PrefixProbe probe = [&](const std::string& prefix) {
    std::vector<std::string> texts;
    const auto make_task = [&](std::vector<data::Prompt> shard) {
      return ResponsesTask{.prompts = std::move(shard), .response_prefix = prefix};
    };
    for (const mpi::Message& reply : run_tasks(pool, shard_tasks(probe_prompts, n_workers, make_task),
                                               mpi::MessageType::responses_result)) {
      for (std::string& text : from_message<ResponsesReply>(reply).texts) texts.push_back(std::move(text));
    }
    return texts;
  };
  const std::string prefix = method::detect_response_prefix(probe, job.chain_of_thought_skips);
  if (prefix.empty()) {
    fmt::print("* None found ({})\n", format_duration(seconds_since(start)));
  } else {
    fmt::print("* Prefix found: {} ({})\n", python_repr(prefix), format_duration(seconds_since(start)));
  }
  return prefix;
}

}  // namespace

PreparationResult prepare_study(const config::Job& job, const StudyInputs& inputs, mpi::WorkerPool& pool) {
  const std::string fingerprint = preparation_fingerprint(job, inputs);
  if (auto cached = cache::read_preparation(job.cache, fingerprint)) {
    fmt::print("Using cached directions and baselines from {}\n", job.cache.string());
    fmt::print("* Initial refusals: {}/{}\n", cached->refusals_baseline, cached->n_bad_evaluation_prompts);
    return {std::move(*cached), true};
  }
  const auto n_workers = static_cast<size_t>(pool.n_workers());
  cache::Preparation prep;
  // Appended to every later prompt: baselines, residuals and trials (method spec §3.4 step 5).
  prep.response_prefix = response_prefix(job, inputs, pool);
  const std::string& prefix = prep.response_prefix;

  fmt::print("* Obtaining first-token probability distributions...\n");
  auto start = Clock::now();
  const auto logprobs_task = [&](std::vector<data::Prompt> shard) {
    return LogprobsTask{.prompts = std::move(shard), .response_prefix = prefix};
  };
  std::vector<torch::Tensor> parts;
  for (const mpi::Message& reply : run_tasks(pool, shard_tasks(inputs.good_evaluation, n_workers, logprobs_task),
                                             mpi::MessageType::logprobs_result)) {
    parts.push_back(from_message<LogprobsReply>(reply).logprobs);
  }
  prep.baseline_logprobs = torch::cat(parts, 0);  // float32 [N_good_eval, V], in prompt order
  fmt::print("  ({})\n", format_duration(seconds_since(start)));

  fmt::print("* Counting model refusals...\n");
  start = Clock::now();
  const auto refusals_task = [&](std::vector<data::Prompt> shard) {
    return RefusalsTask{.prompts = std::move(shard), .response_prefix = prefix, .with_texts = false};
  };
  for (const mpi::Message& reply : run_tasks(pool, shard_tasks(inputs.bad_evaluation, n_workers, refusals_task),
                                             mpi::MessageType::refusal_count)) {
    prep.refusals_baseline += from_message<RefusalsReply>(reply).refusals;
  }
  prep.n_bad_evaluation_prompts = static_cast<int64_t>(inputs.bad_evaluation.size());
  fmt::print("* Initial refusals: {}/{} ({})\n", prep.refusals_baseline, prep.n_bad_evaluation_prompts,
             format_duration(seconds_since(start)));

  fmt::print("Calculating per-layer refusal directions...\n");
  start = Clock::now();
  fmt::print("* Obtaining residuals for good prompts...\n");
  fmt::print("* Obtaining residuals for bad prompts...\n");
  const auto residuals_task = [&](std::vector<data::Prompt> shard) {
    return ResidualsTask{.prompts = std::move(shard), .response_prefix = prefix};
  };
  // Good shards first, then bad: replies come back in task order.
  std::vector<mpi::Message> tasks = shard_tasks(inputs.good, n_workers, residuals_task);
  const size_t n_good_tasks = tasks.size();
  for (mpi::Message& task : shard_tasks(inputs.bad, n_workers, residuals_task)) tasks.push_back(std::move(task));
  std::vector<mpi::Message> replies = run_tasks(pool, tasks, mpi::MessageType::residual_sums);
  const std::vector<mpi::Message> good_replies(replies.begin(), replies.begin() + static_cast<std::ptrdiff_t>(n_good_tasks));
  const std::vector<mpi::Message> bad_replies(replies.begin() + static_cast<std::ptrdiff_t>(n_good_tasks), replies.end());
  prep.good_means = reduce_sums(good_replies).mean();  // float32 [L+1, d]
  prep.bad_means = reduce_sums(bad_replies).mean();
  prep.directions = method::refusal_directions(prep.good_means, prep.bad_means, job.orthogonalize_direction);
  fmt::print("  ({})\n", format_duration(seconds_since(start)));

  cache::write_preparation(job.cache, fingerprint, prep);
  return {std::move(prep), false};
}

void send_trial_context(const config::Job& job, const StudyInputs& inputs, const cache::Preparation& preparation,
                        mpi::WorkerPool& pool) {
  const ContextTask context{.good_evaluation = inputs.good_evaluation,
                            .bad_evaluation = inputs.bad_evaluation,
                            .response_prefix = preparation.response_prefix,
                            .directions = preparation.directions,
                            .baseline_logprobs = preparation.baseline_logprobs};
  broadcast(pool, to_message(context), mpi::MessageType::context_ready);
}

}  // namespace abliterate::runner
