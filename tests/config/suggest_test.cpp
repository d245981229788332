#include "abliterate/config/suggest.hpp"

#include <gtest/gtest.h>

namespace abliterate::config {
namespace {

TEST(EditDistance, CountsInsertionsDeletionsSubstitutions) {
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("abc", ""), 3u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("n_trails", "n_trials"), 1u);  // one swap
  EXPECT_EQ(edit_distance("cdua", "cuda"), 1u);
  EXPECT_EQ(edit_distance("cdua", "cpu"), 2u);
  EXPECT_EQ(edit_distance("ca", "abc"), 3u);  // optimal string alignment: no edit inside a swap
  EXPECT_EQ(edit_distance("seed", "seed"), 0u);
}

TEST(NearestName, SuggestsCloseTypos) {
  const std::vector<std::string> keys = {"n_startup_trials", "n_trials", "seed", "study_name"};
  EXPECT_EQ(nearest_name("n_trails", keys), "n_trials");
  EXPECT_EQ(nearest_name("n_trial", keys), "n_trials");
  EXPECT_EQ(nearest_name("sed", keys), "seed");
  EXPECT_EQ(nearest_name("study-name", keys), "study_name");
}

TEST(NearestName, PrefersAbbreviations) {
  // "bf16" is as far from "float16" as from "bfloat16" by edits, but reads as
  // an abbreviation only of the latter (STYLE.md §5's example).
  const std::vector<std::string> dtypes = {"float16", "float32", "bfloat16"};
  EXPECT_EQ(nearest_name("bf16", dtypes), "bfloat16");
  EXPECT_EQ(nearest_name("flt32", dtypes), "float32");
}

TEST(NearestName, SuggestsNothingWhenFar) {
  const std::vector<std::string> keys = {"model", "dtypes", "device"};
  EXPECT_EQ(nearest_name("xyzzy_foo", keys), std::nullopt);
  EXPECT_EQ(nearest_name("abc", {}), std::nullopt);
  EXPECT_EQ(did_you_mean("xyzzy_foo", keys), "");
  EXPECT_EQ(did_you_mean("modle", keys), " (did you mean \"model\"?)");
}

}  // namespace
}  // namespace abliterate::config
