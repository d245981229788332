// The coordinator <-> worker protocol: message types, their fields, and the
// byte encoding both sides share (the log_format.h pattern: one header that
// the writer and the reader include).
//
// A message is a type, a JSON object of small fields, and a list of tensors.
// Encoding (little-endian): u32 magic "ABLM", u32 protocol version, u32 type,
// u64 JSON length, JSON bytes, u32 tensor count, then per tensor: u8 dtype
// (0 float32, 1 float64, 2 int64), u32 rank, i64 dims[rank], raw bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "abliterate/common/error_kind.hpp"

namespace abliterate::mpi {

inline constexpr uint32_t kProtocolVersion = 1;

enum class MessageType : uint32_t {
  // coordinator -> worker
  setup = 1,        // meta: {job: settings JSON, job_path, batch_size_prompts (batch_size 0)}; reply: ready
  residuals = 2,    // meta: {role: "good"|"bad", prompts: [[system, user], ...]}; reply: residual_sums
  logprobs = 3,     // meta: {offset, prompts}; reply: logprobs
  refusals = 4,     // meta: {prompts, response_prefix, with_texts (optional)}; reply: refusal_count
  context = 5,      // meta: {good_evaluation, bad_evaluation, refusals_baseline}; tensors: directions, baseline_logprobs; reply: ready
  trial = 6,        // meta: {trial_id, number, params: {direction_index, parameters}}; reply: trial_result
  stop = 7,         // no reply
  responses = 8,    // meta: {prompts, response_prefix}; reply: responses_result (prefix detection, method spec §3.4)
  // worker -> coordinator
  ready = 101,          // meta: {n_layers, hidden_size, vocab_size, device, threads, batch_size, batch_size_trials}
  residual_sums = 102,  // meta: {role, count}; tensors: float64 [L+1, d]
  logprobs_result = 103,// meta: {offset}; tensors: float32 [n, V]
  refusal_count = 104,  // meta: {refusals, n, texts (when asked with_texts)}
  trial_result = 105,   // meta: {trial_id, kl_divergence, refusals, seconds}
  failure = 106,        // meta: {trial_id (when a trial failed), kind (ErrorKind's name), reason}
  responses_result = 107,  // meta: {texts}: whole greedy responses, special tokens kept
};

const char* to_string(MessageType type);

struct Message {
  MessageType type = MessageType::stop;
  nlohmann::json meta = nlohmann::json::object();
  std::vector<torch::Tensor> tensors;  // CPU, contiguous
};

// A worker's failure reply: the error's kind and message, and the trial when
// a trial failed (DESIGN.md §2.5: a failed trial is a result, not the end of
// the worker).
Message failure_message(ErrorKind kind, const std::string& reason, std::optional<int64_t> trial_id = std::nullopt);

// The kind a failure reply names; internal when it names none.
ErrorKind failure_kind(const Message& reply);

// Throws a failure reply on this side as the error it was on the worker,
// its message prefixed with `context` ("rank 2 failed").
[[noreturn]] void rethrow_failure(const Message& reply, const std::string& context);

std::vector<uint8_t> encode_message(const Message& message);

// Throws FormatError on a malformed buffer (wrong magic, version, truncated).
Message decode_message(const uint8_t* data, size_t size);

}  // namespace abliterate::mpi
