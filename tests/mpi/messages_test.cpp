#include "abliterate/mpi/messages.hpp"

#include <gtest/gtest.h>

#include "abliterate/common/error.hpp"
#include "support/throws_with.hpp"

namespace abliterate::mpi {

TEST(Messages, RoundTripKeepsMetaAndTensors) {
  torch::manual_seed(3);
  Message m{MessageType::residual_sums, {{"role", "good"}, {"count", 12}},
            {torch::randn({5, 7}, torch::kFloat64), torch::randn({2, 3}), torch::arange(4)}};
  const std::vector<uint8_t> bytes = encode_message(m);
  const Message back = decode_message(bytes.data(), bytes.size());
  EXPECT_EQ(back.type, MessageType::residual_sums);
  EXPECT_EQ(back.meta, m.meta);
  ASSERT_EQ(back.tensors.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(back.tensors[i].scalar_type(), m.tensors[i].scalar_type());
    EXPECT_TRUE(torch::equal(back.tensors[i], m.tensors[i]));
  }
}

TEST(Messages, TruncatedOrForeignBuffersAreRejected) {
  Message m{MessageType::trial, {{"trial_id", 4}}, {torch::ones({3})}};
  std::vector<uint8_t> bytes = encode_message(m);
  ASSERT_THROWS_WITH(decode_message(bytes.data(), bytes.size() - 2), FormatError, "truncated");
  bytes[0] ^= 0xff;
  ASSERT_THROWS_WITH(decode_message(bytes.data(), bytes.size()), FormatError, "bad magic");
}

// A worker's error crosses the wire as its kind: rank 0 throws the same type.
TEST(Messages, AFailureIsThrownAgainAsItsKind) {
  const Message sent = failure_message(ErrorKind::numeric, "prompt 0: first-token logits are not finite", 7);
  const std::vector<uint8_t> bytes = encode_message(sent);
  const Message reply = decode_message(bytes.data(), bytes.size());
  EXPECT_EQ(reply.type, MessageType::failure);
  EXPECT_EQ(reply.meta.at("trial_id").get<int64_t>(), 7);
  EXPECT_EQ(failure_kind(reply), ErrorKind::numeric);
  ASSERT_THROWS_WITH(rethrow_failure(reply, "rank 2 failed"), NumericError,
                     "rank 2 failed: prompt 0: first-token logits are not finite");
  ASSERT_THROWS_WITH(rethrow_failure(failure_message(ErrorKind::input, "prompts.jsonl: line 3: no 'text'"), "rank 1"),
                     InputError, "rank 1: prompts.jsonl: line 3: no 'text'");
  // A reply that names no kind, or one this build does not know, is internal.
  EXPECT_EQ(failure_kind(Message{MessageType::failure, {{"reason", "x"}}, {}}), ErrorKind::internal);
  const Message unknown_kind{MessageType::failure, {{"kind", "cosmic"}, {"reason", "x"}}, {}};
  EXPECT_EQ(failure_kind(unknown_kind), ErrorKind::internal);
}

}  // namespace abliterate::mpi
