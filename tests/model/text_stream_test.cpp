#include "abliterate/tokenizer/text_stream.hpp"

#include <gtest/gtest.h>

namespace abliterate::model {
namespace {

TEST(TextStream, PrintsOnlyTheNewText) {
  tokenizer::TextStream stream;
  EXPECT_EQ(stream.advance("Hel"), "Hel");
  EXPECT_EQ(stream.advance("Hello"), "lo");
  EXPECT_EQ(stream.advance("Hello"), "");
  EXPECT_EQ(stream.finish("Hello!"), "!");
  EXPECT_EQ(stream.printed(), "Hello!");
}

TEST(TextStream, HoldsBackATruncatedUtf8Character) {
  tokenizer::TextStream stream;
  // "é" is C3 A9; "😀" is F0 9F 98 80.
  EXPECT_EQ(stream.advance("caf\xC3"), "caf");
  EXPECT_EQ(stream.advance("caf\xC3\xA9 \xF0\x9F"), "\xC3\xA9 ");
  EXPECT_EQ(stream.advance("caf\xC3\xA9 \xF0\x9F\x98"), "");
  EXPECT_EQ(stream.advance("caf\xC3\xA9 \xF0\x9F\x98\x80"), "\xF0\x9F\x98\x80");
  EXPECT_EQ(stream.printed(), "caf\xC3\xA9 \xF0\x9F\x98\x80");
}

TEST(TextStream, HoldsBackReplacementCharactersUntilTheEnd) {
  tokenizer::TextStream stream;
  // Byte fallback decodes a lone lead byte to U+FFFD (EF BF BD) until its continuation arrives.
  EXPECT_EQ(stream.advance("a\xEF\xBF\xBD"), "a");
  EXPECT_EQ(stream.advance("a\xC3\xA9"), "\xC3\xA9");
  EXPECT_EQ(stream.advance("a\xC3\xA9 b\xEF\xBF\xBD\xEF\xBF\xBD"), " b");
  // A generation that really ends in U+FFFD prints it at the end.
  EXPECT_EQ(stream.finish("a\xC3\xA9 b\xEF\xBF\xBD\xEF\xBF\xBD"), "\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(TextStream, WaitsWhileTheDecodedTextRewritesWhatWasPrinted) {
  tokenizer::TextStream stream;
  EXPECT_EQ(stream.advance(" Hi"), " Hi");
  EXPECT_EQ(stream.advance("Hi there"), "");  // no longer extends " Hi"
  EXPECT_EQ(stream.finish(" Hi there"), " there");
}

}  // namespace
}  // namespace abliterate::model
