// The coordinator <-> worker protocol's envelope: message types and the
// byte encoding both sides share (the log_format.h pattern: one header that
// the writer and the reader include). What each type carries is a struct in
// runner/protocol.hpp, encoded into `payload` by mpi/wire.hpp.
//
// Encoding (little-endian): u32 magic "ABLM", u32 protocol version, u32 type,
// u64 payload length, payload bytes, u32 tensor count, then per tensor: u8
// dtype (0 float32, 1 float64, 2 int64), u32 rank, i64 dims[rank], raw bytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace abliterate::mpi {

// 2: typed payloads (issue 12) instead of JSON. 3: trials / trials_result.
inline constexpr uint32_t kProtocolVersion = 3;

enum class MessageType : uint32_t {
  // coordinator -> worker (runner/protocol.hpp names each one's struct)
  setup = 1,
  residuals = 2,
  logprobs = 3,
  refusals = 4,
  context = 5,
  trial = 6,
  stop = 7,
  responses = 8,
  trials = 9,
  // worker -> coordinator
  ready = 101,
  residual_sums = 102,
  logprobs_result = 103,
  refusal_count = 104,
  trial_result = 105,
  failure = 106,
  responses_result = 107,
  context_ready = 108,
  trials_result = 109,
};

const char* to_string(MessageType type);

struct Message {
  MessageType type = MessageType::stop;
  std::vector<uint8_t> payload;        // the type's fields (mpi/wire.hpp)
  std::vector<torch::Tensor> tensors;  // CPU, contiguous
};

std::vector<uint8_t> encode_message(const Message& message);

// Throws FormatError on a malformed buffer (wrong magic, version, truncated).
Message decode_message(const uint8_t* data, size_t size);

}  // namespace abliterate::mpi
