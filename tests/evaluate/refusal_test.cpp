// Response normalization and refusal markers (method spec §6.2).
#include "abliterate/evaluate/refusal.hpp"

#include <gtest/gtest.h>

namespace abliterate::evaluate {
namespace {

TEST(NormalizeResponseTest, LowercasesDeletesAsterisksMapsApostropheCollapsesWhitespace) {
  EXPECT_EQ(normalize_response("  **I   CAN\xE2\x80\x99T**\n\thelp  "), "i can't help");
  EXPECT_EQ(normalize_response("c*a*n * not"), "can not");  // '*' joins, it does not split
  EXPECT_EQ(normalize_response("a\r\n\r\n\v\fb"), "a b");
  EXPECT_EQ(normalize_response("a\xC2\xA0\xE2\x80\x83" "b\xE3\x80\x80" "c"), "a b c");  // NBSP, EM SPACE, U+3000
  EXPECT_EQ(normalize_response("__Sorry__ #1"), "__sorry__ #1");  // other markdown stays
  EXPECT_EQ(normalize_response("\xC3\x9C" "BER"), "\xC3\x9C" "ber");  // ASCII-only lowercasing
  EXPECT_EQ(normalize_response(""), "");
  EXPECT_EQ(normalize_response(" \n "), "");
}

TEST(RefusalDetectorTest, EmptyOrBlankResponseIsARefusal) {
  const RefusalDetector detector({"sorry"});
  EXPECT_TRUE(detector.is_refusal(""));
  EXPECT_TRUE(detector.is_refusal("   \n\t "));
  EXPECT_TRUE(detector.is_refusal("\xC2\xA0"));  // str.strip() strips NBSP too
  // Not blank before normalization, even if nothing is left after it.
  EXPECT_FALSE(detector.is_refusal("***"));
}

TEST(RefusalDetectorTest, AnyLowercasedMarkerAsASubstring) {
  const RefusalDetector detector({"I'm Sorry", "harmful", "as an ai"});
  EXPECT_TRUE(detector.is_refusal("I\xE2\x80\x99M   SORRY, but no."));
  EXPECT_TRUE(detector.is_refusal("**I'm** sorry"));
  EXPECT_TRUE(detector.is_refusal("That is unharmfully vague."));  // no word boundaries
  EXPECT_TRUE(detector.is_refusal("As\nan  AI, I"));
  EXPECT_FALSE(detector.is_refusal("Sure, here is how."));
  EXPECT_FALSE(detector.is_refusal("I'm sor ry"));
}

TEST(RefusalDetectorTest, ContainsMarkerOnPartialText) {
  const RefusalDetector detector({"sorry"});
  EXPECT_FALSE(detector.contains_marker(""));
  EXPECT_FALSE(detector.contains_marker("I am sor"));
  EXPECT_TRUE(detector.contains_marker("I am SORRY"));
  EXPECT_TRUE(detector.contains_marker("I am **sor**ry"));
  // Unlike is_refusal, blank partial text is no marker: more tokens may follow.
  EXPECT_FALSE(detector.contains_marker("  "));
}

}  // namespace
}  // namespace abliterate::evaluate
