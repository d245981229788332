#include "abliterate/common/error_kind.hpp"

#include <new>
#include <stdexcept>

#include <gtest/gtest.h>

#include "abliterate/common/error.hpp"
#include "support/throws_with.hpp"

namespace abliterate {

// A kind survives the trip: name it, read the name back, throw it as the same type.
TEST(ErrorKind, RoundTripsThroughItsName) {
  for (ErrorKind kind : {ErrorKind::input, ErrorKind::format, ErrorKind::io, ErrorKind::numeric, ErrorKind::internal}) {
    const std::optional<ErrorKind> read = error_kind_from_string(to_string(kind));
    ASSERT_TRUE(read.has_value()) << to_string(kind);
    EXPECT_EQ(*read, kind);
    try {
      throw_error(kind, "rank 2: prompt 3: logits are not finite");
    } catch (const Error& e) {
      EXPECT_EQ(kind_of(e), kind);
      EXPECT_STREQ(e.what(), "rank 2: prompt 3: logits are not finite");
    }
  }
  EXPECT_FALSE(error_kind_from_string("numerical").has_value());
  EXPECT_FALSE(error_kind_from_string("").has_value());
}

TEST(ErrorKind, NamesEachErrorAndTreatsForeignExceptionsAsInternal) {
  EXPECT_EQ(kind_of(InputError("x")), ErrorKind::input);
  EXPECT_EQ(kind_of(FormatError("x")), ErrorKind::format);
  EXPECT_EQ(kind_of(IoError("x")), ErrorKind::io);
  EXPECT_EQ(kind_of(NumericError("x")), ErrorKind::numeric);
  EXPECT_EQ(kind_of(InternalError("x")), ErrorKind::internal);
  EXPECT_EQ(kind_of(std::runtime_error("c10::Error")), ErrorKind::internal);
  EXPECT_EQ(kind_of(std::bad_alloc()), ErrorKind::internal);
  ASSERT_THROWS_WITH(throw_error(ErrorKind::numeric, "KL divergence is not finite"), NumericError,
                     "KL divergence is not finite");
}

}  // namespace abliterate
