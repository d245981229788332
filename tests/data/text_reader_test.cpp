#include "abliterate/data/text_reader.hpp"

#include <gtest/gtest.h>

#include <sstream>

#include "abliterate/common/error.hpp"
#include "data/temp_dir.hpp"
#include "support/throws_with.hpp"

namespace abliterate::data {
namespace {

std::vector<std::string> read(const std::string& text) {
  std::istringstream in(text);
  return read_text_lines(in, "prompts.txt");
}

TEST(TextReader, OnePromptPerNonBlankLine) {
  EXPECT_EQ(read("first\n\nsecond line\r\n  \t\n  third  \nlast"),
            (std::vector<std::string>{"first", "second line", "  third  ", "last"}));
  EXPECT_EQ(read("\xEF\xBB\xBFwith bom\n"), std::vector<std::string>{"with bom"});
  EXPECT_EQ(read(""), std::vector<std::string>{});
}

TEST(TextReader, BadUtf8NamesTheLine) {
  ASSERT_THROWS_WITH(read("ok\n\nbad \xC0\xAF here\n"), InputError, "prompts.txt:3: not valid UTF-8");
  ASSERT_THROWS_WITH(read("truncated \xE2\x82\n"), InputError, "prompts.txt:1: not valid UTF-8");
  EXPECT_EQ(read("euro \xE2\x82\xAC\n"), std::vector<std::string>{"euro \xE2\x82\xAC"});
}

TEST(TextReader, ReadsFiles) {
  testing::TempDir dir;
  EXPECT_EQ(read_text_lines(dir.write("p.txt", "a\nb\n")), (std::vector<std::string>{"a", "b"}));
  ASSERT_THROWS_WITH(read_text_lines(dir.path() / "none.txt"), IoError, "none.txt: cannot open");
}

}  // namespace
}  // namespace abliterate::data
