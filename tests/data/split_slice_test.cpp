#include "abliterate/data/split_slice.hpp"

#include <gtest/gtest.h>

#include "abliterate/common/error.hpp"
#include "support/throws_with.hpp"

namespace abliterate::data {
namespace {

TEST(ParseSplit, AcceptsHfSyntax) {
  struct Case {
    const char* text;
    SplitSlice expected;
  };
  const Case cases[] = {
      {"train", {"train", std::nullopt, std::nullopt, false}},
      {"train[:400]", {"train", std::nullopt, 400, false}},
      {"test[10:20]", {"test", 10, 20, false}},
      {"train[-5:]", {"train", -5, std::nullopt, false}},
      {"train[:-5]", {"train", std::nullopt, -5, false}},
      {"train[:]", {"train", std::nullopt, std::nullopt, false}},
      {"train[:10%]", {"train", std::nullopt, 10, true}},
      {"train[10%:20%]", {"train", 10, 20, true}},
      {"train[-100%:]", {"train", -100, std::nullopt, true}},
      // As in HF, one '%' makes both bounds percentages.
      {"train[10:50%]", {"train", 10, 50, true}},
      {"validation_1.v2", {"validation_1.v2", std::nullopt, std::nullopt, false}},
  };
  for (const Case& c : cases) EXPECT_EQ(parse_split(c.text), c.expected) << c.text;
}

TEST(ParseSplit, RejectsBadSyntax) {
  for (const char* bad : {"", "train[5]", "train[]", "train[:400", "train[a:b]", "train[:400]x", "[:5]", "train.",
                          ".train", "train..x", "train[1.5:]", "train[- 1:]", "train[+1:]", "train+test",
                          "train[:10%%]", "train [:5]", "train[:99999999999999999999]"}) {
    ASSERT_THROWS_WITH(parse_split(bad), InputError,
                       fmt::format("split: expected NAME or NAME[start:stop], got \"{}\"", bad));
  }
  ASSERT_THROWS_WITH(parse_split("train[:150%]"), InputError,
                     "split: a percentage must lie in [-100, 100], got \"train[:150%]\"");
}

TEST(ResolveSlice, SlicesLikePython) {
  struct Case {
    const char* split;
    int64_t n_rows;
    int64_t begin;
    int64_t end;
  };
  const Case cases[] = {
      {"train", 10, 0, 10},
      {"train[:400]", 1000, 0, 400},
      {"train[:400]", 50, 0, 50},  // clamped to the split
      {"test[10:20]", 100, 10, 20},
      {"test[10:20]", 15, 10, 15},
      {"test[10:20]", 5, 5, 5},  // start past the end: empty
      {"train[-5:]", 100, 95, 100},
      {"train[-5:]", 3, 0, 3},  // negative past the start: clamped
      {"train[:-5]", 100, 0, 95},
      {"train[:-5]", 3, 0, 0},
      {"train[20:10]", 100, 20, 20},  // stop before start: empty
      {"train", 0, 0, 0},
      {"train[:10%]", 1000, 0, 100},
      {"train[10%:20%]", 1000, 100, 200},
      {"train[-10%:]", 1000, 900, 1000},
      {"train[:100%]", 7, 0, 7},
      // Python's round: ties to even (HF "closest").
      {"train[:10%]", 25, 0, 2},  // 2.5 -> 2
      {"train[:10%]", 35, 0, 4},  // 3.5 -> 4
      {"train[:10%]", 26, 0, 3},  // 2.6 -> 3
      {"train[:33%]", 10, 0, 3},  // 3.3 -> 3
  };
  for (const Case& c : cases) {
    const auto [begin, end] = resolve_slice(parse_split(c.split), c.n_rows);
    EXPECT_EQ(begin, c.begin) << c.split << " of " << c.n_rows;
    EXPECT_EQ(end, c.end) << c.split << " of " << c.n_rows;
  }
}

}  // namespace
}  // namespace abliterate::data
