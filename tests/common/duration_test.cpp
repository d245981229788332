#include "abliterate/common/duration.hpp"

#include <gtest/gtest.h>

#include "abliterate/common/error.hpp"
#include "support/throws_with.hpp"

namespace abliterate {

TEST(Duration, FormatsLikeHeretic) {
  EXPECT_EQ(format_duration(0), "0s");
  EXPECT_EQ(format_duration(59.4), "59s");
  EXPECT_EQ(format_duration(61), "1m 1s");
  EXPECT_EQ(format_duration(3600 + 120 + 5), "1h 2m");
  EXPECT_EQ(format_duration(-3), "0s");
}

TEST(Error, ContextKeepsTypeAndPrefixes) {
  ASSERT_THROWS_WITH(with_context("model.gguf", [] { throw FormatError("tensor 'x': truncated"); }), FormatError,
                     "model.gguf: tensor 'x': truncated");
  ASSERT_THROWS_WITH(ABL_CHECK(1 + 1 == 3, InputError, "n_trials: expected {}, got {}", ">= 1", -3), InputError,
                     "n_trials: expected >= 1, got -3");
  ASSERT_THROWS_WITH(ABL_ASSERT(false, "broken {}", 1), InternalError, "please report a bug");
}

}  // namespace abliterate
