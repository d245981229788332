#include "abliterate/data/jsonl_reader.hpp"

#include <gtest/gtest.h>

#include <sstream>

#include "abliterate/common/error.hpp"
#include "data/temp_dir.hpp"
#include "support/throws_with.hpp"

namespace abliterate::data {
namespace {

std::vector<std::string> read(const std::string& text, const std::string& column = "text") {
  std::istringstream in(text);
  return read_jsonl_column(in, "harmful.jsonl", column);
}

TEST(JsonlReader, ReadsTheColumnInOrder) {
  EXPECT_EQ(read("{\"text\": \"a\"}\n{\"text\": \"b\", \"other\": 1}\n{\"text\": \"c\"}"),
            (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(read("{\"goal\": \"x\", \"text\": \"y\"}\n", "goal"), std::vector<std::string>{"x"});
  EXPECT_EQ(read(""), std::vector<std::string>{});
}

TEST(JsonlReader, SkipsBlankLinesAcceptsBomAndCrlf) {
  EXPECT_EQ(read("\xEF\xBB\xBF{\"text\": \"a\"}\r\n\r\n   \n{\"text\": \"b \\u00e9\"}\r\n\n"),
            (std::vector<std::string>{"a", "b \xC3\xA9"}));
}

TEST(JsonlReader, BadLineNamesFileAndLine) {
  ASSERT_THROWS_WITH(read("{\"text\": \"a\"}\n\n{\"text\": \"b\"\n"), InputError, "harmful.jsonl:3: not valid JSON");
  ASSERT_THROWS_WITH(read("{\"text\": \"a\"} trailing\n"), InputError, "harmful.jsonl:1: not valid JSON");
}

TEST(JsonlReader, MissingFieldNamesFileLineAndField) {
  ASSERT_THROWS_WITH(read("{\"text\": \"a\"}\n{\"goal\": \"b\"}\n"), InputError,
                     "harmful.jsonl:2: missing field \"text\"");
  ASSERT_THROWS_WITH(read("{\"text\": \"a\"}\n", "goal"), InputError, "harmful.jsonl:1: missing field \"goal\"");
}

TEST(JsonlReader, WrongShapesAreErrors) {
  ASSERT_THROWS_WITH(read("[\"a\"]\n"), InputError, "harmful.jsonl:1: expected a JSON object, got [\"a\"]");
  ASSERT_THROWS_WITH(read("{\"text\": 3}\n"), InputError, "harmful.jsonl:1: field \"text\": expected a string, got 3");
  ASSERT_THROWS_WITH(read("{\"text\": \"ok\"}\n{\"text\": \"\xFF\"}\n"), InputError,
                     "harmful.jsonl:2: not valid UTF-8");
}

TEST(JsonlReader, ReadsFiles) {
  testing::TempDir dir;
  const auto file = dir.write("p.jsonl", "{\"text\": \"one\"}\n{\"text\": \"two\"}\n");
  EXPECT_EQ(read_jsonl_column(file, "text"), (std::vector<std::string>{"one", "two"}));
  const auto bad = dir.write("bad.jsonl", "{\"text\": \"one\"}\n{oops}\n");
  ASSERT_THROWS_WITH(read_jsonl_column(bad, "text"), InputError, bad.string() + ":2: not valid JSON");
  ASSERT_THROWS_WITH(read_jsonl_column(dir.path() / "none.jsonl", "text"), IoError, "none.jsonl: cannot open");
}

}  // namespace
}  // namespace abliterate::data
