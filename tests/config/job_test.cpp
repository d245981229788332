#include "abliterate/config/job.hpp"

#include <gtest/gtest.h>

namespace abliterate::config {
namespace {

namespace fs = std::filesystem;

TEST(Job, ResolveInputAgainstTheJobFolder) {
  Job job;
  job.source_path = "/work/jobs/gemma.yaml";
  EXPECT_EQ(job.resolve_input("data/harmless"), fs::path("/work/jobs/data/harmless"));
  EXPECT_EQ(job.resolve_input("../models/m"), fs::path("/work/models/m"));
  EXPECT_EQ(job.resolve_input("/abs/path"), fs::path("/abs/path"));

  job.source_path = "jobs/gemma.yaml";  // relative job file: relative result
  EXPECT_EQ(job.resolve_input("data/x.jsonl"), fs::path("jobs/data/x.jsonl"));
  job.source_path = "gemma.yaml";  // job in the current directory
  EXPECT_EQ(job.resolve_input("data/x.jsonl"), fs::path("data/x.jsonl"));
  job.source_path.clear();  // built in code
  EXPECT_EQ(job.resolve_input("data/x.jsonl"), fs::path("data/x.jsonl"));
}

TEST(Job, DefaultRefusalMarkersAreHereticsInOrder) {
  const auto& markers = default_refusal_markers();
  ASSERT_EQ(markers.size(), 32u);  // method spec §2
  EXPECT_EQ(markers.front(), "sorry");
  EXPECT_EQ(markers[1], "i can'");
  EXPECT_EQ(markers[15], "as an ai");
  EXPECT_EQ(markers[25], "violat");
  EXPECT_EQ(markers.back(), "ethical boundaries");
  EXPECT_EQ(Job().refusal_markers, markers);
}

TEST(Job, EnumSpellingsRoundTrip) {
  for (DType d : {DType::float32, DType::bfloat16, DType::float16}) EXPECT_EQ(parse_dtype(to_string(d)), d);
  for (RowNormalization r : {RowNormalization::none, RowNormalization::pre, RowNormalization::full}) {
    EXPECT_EQ(parse_row_normalization(to_string(r)), r);
  }
  for (Objectives o : {Objectives::heretic, Objectives::raw}) EXPECT_EQ(parse_objectives(to_string(o)), o);
  EXPECT_STREQ(to_string(DType::bfloat16), "bfloat16");
  EXPECT_STREQ(to_string(RowNormalization::full), "full");
  EXPECT_STREQ(to_string(Objectives::raw), "raw");
  EXPECT_EQ(parse_dtype("bf16"), std::nullopt);
  EXPECT_EQ(parse_dtype("auto"), std::nullopt);
  EXPECT_EQ(parse_row_normalization("post"), std::nullopt);
  EXPECT_EQ(parse_objectives(""), std::nullopt);
}

}  // namespace
}  // namespace abliterate::config
