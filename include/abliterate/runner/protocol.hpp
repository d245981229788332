// The coordinator <-> worker protocol, typed: one struct per message, its
// fields listed once in describe() (mpi/wire.hpp walks the list both ways).
// to_message/from_message convert at the transport's edge; nothing past it
// sees bytes or JSON. A task's reply type is named beside it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <torch/torch.h>

#include "abliterate/common/error_kind.hpp"
#include "abliterate/config/job.hpp"
#include "abliterate/data/prompt_set.hpp"
#include "abliterate/mpi/messages.hpp"
#include "abliterate/mpi/wire.hpp"

namespace abliterate::data {
template <typename Archive>
void describe(Archive& a, Prompt& m) {
  a(m.system, m.user);
}
}  // namespace abliterate::data

namespace abliterate::runner {

// ---- coordinator -> worker ----

// Load the job's model; with batch_size 0, time the batch sizes on
// `batch_size_prompts` first. Reply: Ready.
struct SetupTask {
  static constexpr mpi::MessageType kType = mpi::MessageType::setup;
  config::Job job;
  std::vector<data::Prompt> batch_size_prompts;
};
// The job travels as its settings (job_to_json) and its file's path, which
// relative inputs resolve against.
void describe(mpi::WireWriter& a, SetupTask& m);
void describe(mpi::WireReader& a, SetupTask& m);

// Per-layer residual sums of the prompts (method spec §4.1). Reply: ResidualSumsReply.
struct ResidualsTask {
  static constexpr mpi::MessageType kType = mpi::MessageType::residuals;
  std::vector<data::Prompt> prompts;
  std::string response_prefix;
};
template <typename A> void describe(A& a, ResidualsTask& m) { a(m.prompts, m.response_prefix); }

// First-token log-probabilities of the prompts (spec §6.1). Reply: LogprobsReply.
struct LogprobsTask {
  static constexpr mpi::MessageType kType = mpi::MessageType::logprobs;
  std::vector<data::Prompt> prompts;
  std::string response_prefix;
};
template <typename A> void describe(A& a, LogprobsTask& m) { a(m.prompts, m.response_prefix); }

// Refusals among the greedy responses (spec §6.2). Reply: RefusalsReply.
struct RefusalsTask {
  static constexpr mpi::MessageType kType = mpi::MessageType::refusals;
  std::vector<data::Prompt> prompts;
  std::string response_prefix;
  bool with_texts = false;  // whole responses too, for print_responses
};
template <typename A> void describe(A& a, RefusalsTask& m) { a(m.prompts, m.response_prefix, m.with_texts); }

// Greedy responses for response-prefix detection (spec §3.4). Reply: ResponsesReply.
struct ResponsesTask {
  static constexpr mpi::MessageType kType = mpi::MessageType::responses;
  std::vector<data::Prompt> prompts;
  std::string response_prefix;
};
template <typename A> void describe(A& a, ResponsesTask& m) { a(m.prompts, m.response_prefix); }

// What every trial needs: the evaluation prompts, directions and the
// baseline log-probabilities. Reply: ContextReady.
struct ContextTask {
  static constexpr mpi::MessageType kType = mpi::MessageType::context;
  std::vector<data::Prompt> good_evaluation;
  std::vector<data::Prompt> bad_evaluation;
  std::string response_prefix;
  torch::Tensor directions;         // float32 [L+1, d]
  torch::Tensor baseline_logprobs;  // float32 [N_good_eval, V]
};
template <typename A> void describe(A& a, ContextTask& m) {
  a(m.good_evaluation, m.bad_evaluation, m.response_prefix, m.directions, m.baseline_logprobs);
}

// One trial: the sampler's values in the search space's order. Reply:
// TrialResult, or Failure naming the trial.
struct TrialTask {
  static constexpr mpi::MessageType kType = mpi::MessageType::trial;
  int64_t trial_id = 0;
  int64_t number = 0;  // the store's trial number (the test faults name it)
  std::vector<double> values;
};
template <typename A> void describe(A& a, TrialTask& m) { a(m.trial_id, m.number, m.values); }

// Several trials evaluated together (trials_per_worker), their rows sharing
// forward batches. Reply: TrialsReply, one outcome per trial.
struct TrialsTask {
  static constexpr mpi::MessageType kType = mpi::MessageType::trials;
  std::vector<TrialTask> trials;
};
template <typename A> void describe(A& a, TrialsTask& m) { a(m.trials); }

// The worker exits its loop. No reply.
struct StopTask {
  static constexpr mpi::MessageType kType = mpi::MessageType::stop;
};
template <typename A> void describe(A&, StopTask&) {}

// ---- worker -> coordinator ----

struct BatchSizeTiming {
  int64_t batch_size = 0;
  std::optional<double> tokens_per_second;  // none when the size failed
  std::string error;
};
template <typename A> void describe(A& a, BatchSizeTiming& m) { a(m.batch_size, m.tokens_per_second, m.error); }

struct Ready {
  static constexpr mpi::MessageType kType = mpi::MessageType::ready;
  int64_t n_layers = 0;
  int64_t hidden_size = 0;
  int64_t vocab_size = 0;
  std::string device;
  int64_t threads = 0;
  int64_t batch_size = 0;                         // chosen, or the job's
  std::vector<BatchSizeTiming> batch_size_trials;  // empty unless chosen
  int64_t peak_rss_bytes = 0;                      // the worker process's, with the model loaded
};
template <typename A> void describe(A& a, Ready& m) {
  a(m.n_layers, m.hidden_size, m.vocab_size, m.device, m.threads, m.batch_size, m.batch_size_trials,
    m.peak_rss_bytes);
}

struct ResidualSumsReply {
  static constexpr mpi::MessageType kType = mpi::MessageType::residual_sums;
  int64_t count = 0;
  torch::Tensor sums;  // float64 [L+1, d]
};
template <typename A> void describe(A& a, ResidualSumsReply& m) { a(m.count, m.sums); }

struct LogprobsReply {
  static constexpr mpi::MessageType kType = mpi::MessageType::logprobs_result;
  torch::Tensor logprobs;  // float32 [n, V]
};
template <typename A> void describe(A& a, LogprobsReply& m) { a(m.logprobs); }

struct RefusalsReply {
  static constexpr mpi::MessageType kType = mpi::MessageType::refusal_count;
  int64_t refusals = 0;
  int64_t n = 0;
  std::vector<std::string> texts;  // when asked with_texts
};
template <typename A> void describe(A& a, RefusalsReply& m) { a(m.refusals, m.n, m.texts); }

struct ResponsesReply {
  static constexpr mpi::MessageType kType = mpi::MessageType::responses_result;
  std::vector<std::string> texts;  // whole greedy responses, special tokens kept
};
template <typename A> void describe(A& a, ResponsesReply& m) { a(m.texts); }

struct ContextReady {
  static constexpr mpi::MessageType kType = mpi::MessageType::context_ready;
};
template <typename A> void describe(A&, ContextReady&) {}

struct TrialResult {
  static constexpr mpi::MessageType kType = mpi::MessageType::trial_result;
  int64_t trial_id = 0;
  double kl_divergence = 0.0;  // may be NaN: the coordinator fails such a trial
  int64_t refusals = 0;
  double seconds = 0.0;
  std::vector<std::string> texts;  // the responses, with print_responses
  int64_t peak_rss_bytes = 0;      // the worker process's so far
  int64_t batch_size = 0;          // after any halving on out-of-memory
};
template <typename A> void describe(A& a, TrialResult& m) {
  a(m.trial_id, m.kl_divergence, m.refusals, m.seconds, m.texts, m.peak_rss_bytes, m.batch_size);
}

// A task failed on the worker: the error's kind survives the trip, and the
// trial when a trial failed (DESIGN.md §2.5: a failed trial is a result).
struct Failure {
  static constexpr mpi::MessageType kType = mpi::MessageType::failure;
  ErrorKind kind = ErrorKind::internal;
  std::string reason;
  std::optional<int64_t> trial_id;
};
void describe(mpi::WireWriter& a, Failure& m);
void describe(mpi::WireReader& a, Failure& m);  // an unknown kind reads as internal

// The outcomes of a TrialsTask: each trial either a result or a failure naming it.
struct TrialsReply {
  static constexpr mpi::MessageType kType = mpi::MessageType::trials_result;
  std::vector<TrialResult> results;
  std::vector<Failure> failures;  // each with its trial_id
};
template <typename A> void describe(A& a, TrialsReply& m) { a(m.results, m.failures); }

// ---- conversion at the transport's edge ----

template <typename Body>
mpi::Message to_message(const Body& body) {
  mpi::WireWriter writer;
  describe(writer, const_cast<Body&>(body));
  return mpi::Message{Body::kType, writer.take_bytes(), writer.take_tensors()};
}

// Throws FormatError when the message is another type or malformed.
template <typename Body>
Body from_message(const mpi::Message& message) {
  ABL_CHECK(message.type == Body::kType, FormatError, "expected a {} message, got {}", to_string(Body::kType),
            to_string(message.type));
  Body body;
  mpi::WireReader reader(message.payload, message.tensors, to_string(Body::kType));
  describe(reader, body);
  reader.expect_end();
  return body;
}

// Throws a Failure on this side as the error it was on the worker, its
// message prefixed with `context` ("rank 2 failed").
[[noreturn]] void rethrow_failure(const Failure& failure, const std::string& context);

}  // namespace abliterate::runner
