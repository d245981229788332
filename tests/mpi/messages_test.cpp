#include "abliterate/mpi/messages.hpp"

#include <gtest/gtest.h>

#include "abliterate/common/error.hpp"
#include "support/throws_with.hpp"

namespace abliterate::mpi {

TEST(Messages, RoundTripKeepsPayloadAndTensors) {
  torch::manual_seed(3);
  Message m{MessageType::residual_sums, {1, 2, 3, 0, 255},
            {torch::randn({5, 7}, torch::kFloat64), torch::randn({2, 3}), torch::arange(4)}};
  const std::vector<uint8_t> bytes = encode_message(m);
  const Message back = decode_message(bytes.data(), bytes.size());
  EXPECT_EQ(back.type, MessageType::residual_sums);
  EXPECT_EQ(back.payload, m.payload);
  ASSERT_EQ(back.tensors.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(back.tensors[i].scalar_type(), m.tensors[i].scalar_type());
    EXPECT_TRUE(torch::equal(back.tensors[i], m.tensors[i]));
  }
}

TEST(Messages, TruncatedForeignOrOtherVersionBuffersAreRejected) {
  Message m{MessageType::trial, {4, 0, 0, 0}, {torch::ones({3})}};
  std::vector<uint8_t> bytes = encode_message(m);
  ASSERT_THROWS_WITH(decode_message(bytes.data(), bytes.size() - 2), FormatError, "truncated");
  std::vector<uint8_t> other_version = bytes;
  other_version[4] = static_cast<uint8_t>(kProtocolVersion + 1);
  ASSERT_THROWS_WITH(decode_message(other_version.data(), other_version.size()), FormatError,
                     "run the same abliterate on every rank");
  bytes[0] ^= 0xff;
  ASSERT_THROWS_WITH(decode_message(bytes.data(), bytes.size()), FormatError, "bad magic");
}

}  // namespace abliterate::mpi
