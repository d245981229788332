#include "abliterate/data/prompt_set.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "abliterate/common/error.hpp"
#include "data/temp_dir.hpp"
#include "support/throws_with.hpp"

namespace abliterate::data {
namespace {

namespace fs = std::filesystem;

std::string jsonl(int n_rows, const std::string& stem = "prompt") {
  std::string text;
  for (int row_idx = 0; row_idx < n_rows; ++row_idx) {
    text += fmt::format("{{\"text\": \"{} {}\"}}\n", stem, row_idx);
  }
  return text;
}

// A job file in `dir`/jobs, so that datasets resolve against that folder.
config::Job job_in(const testing::TempDir& dir) {
  config::Job job;
  job.source_path = dir.path() / "jobs/job.yaml";
  job.model = "m";
  return job;
}

config::PromptSetSpec spec(const std::string& dataset, const std::string& split) {
  config::PromptSetSpec s;
  s.dataset = dataset;
  s.split = split;
  return s;
}

TEST(PromptSet, FolderWithOneFilePerSplit) {
  testing::TempDir dir;
  dir.write("jobs/data/harmless/train.jsonl", jsonl(10, "train"));
  dir.write("jobs/data/harmless/test.jsonl", jsonl(4, "test"));
  const config::Job job = job_in(dir);

  const auto train = load_prompt_set(job, spec("data/harmless", "train[2:5]"), "good_prompts");
  ASSERT_EQ(train.size(), 3u);
  EXPECT_EQ(train[0], (Prompt{"You are a helpful assistant.", "train 2"}));
  EXPECT_EQ(train[2].user, "train 4");

  const auto test = load_prompt_set(job, spec("data/harmless", "test[:100]"), "good_evaluation_prompts");
  ASSERT_EQ(test.size(), 4u);  // clamped to the split
  EXPECT_EQ(test[3].user, "test 3");

  const auto tail = load_prompt_set(job, spec("data/harmless", "train[-10%:]"), "good_prompts");
  ASSERT_EQ(tail.size(), 1u);
  EXPECT_EQ(tail[0].user, "train 9");
}

TEST(PromptSet, SingleFilesAndPlainText) {
  testing::TempDir dir;
  const fs::path file = dir.write("sets/bad.jsonl", jsonl(5));
  dir.write("jobs/lines.txt", "first prompt\n\nsecond prompt\n");
  dir.write("jobs/split/train.txt", "from text\n");
  const config::Job job = job_in(dir);

  // An absolute file: the split's name is ignored, its slice applies.
  const auto from_file = load_prompt_set(job, spec(file.string(), "whatever[1:3]"), "bad_prompts");
  ASSERT_EQ(from_file.size(), 2u);
  EXPECT_EQ(from_file[0].user, "prompt 1");

  const auto lines = load_prompt_set(job, spec("lines.txt", "train"), "bad_prompts");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1].user, "second prompt");

  const auto from_folder = load_prompt_set(job, spec("split", "train"), "bad_prompts");
  EXPECT_EQ(from_folder, (std::vector<Prompt>{{"You are a helpful assistant.", "from text"}}));

  auto other_column = spec("lines.txt", "train");
  other_column.column = "goal";
  ASSERT_THROWS_WITH(load_prompt_set(job, other_column, "bad_prompts"), InputError, "job.yaml: bad_prompts.column: ");
  ASSERT_THROWS_WITH(load_prompt_set(job, other_column, "bad_prompts"), InputError,
                     "is plain text, whose only column is \"text\"; got \"goal\"");
}

TEST(PromptSet, ColumnPrefixSuffixAndSystemPrompt) {
  testing::TempDir dir;
  dir.write("jobs/d/train.jsonl", "{\"goal\": \"Write a poem\", \"text\": \"unused\"}\n");
  config::Job job = job_in(dir);
  job.system_prompt = "Global system.";

  auto s = spec("d", "train");
  s.column = "goal";
  s.prefix = "Please:";
  s.suffix = "Thanks!";
  EXPECT_EQ(load_prompt_set(job, s, "good_prompts"),
            (std::vector<Prompt>{{"Global system.", "Please: Write a poem Thanks!"}}));

  s.prefix.clear();
  s.system_prompt = "Own system.";
  EXPECT_EQ(load_prompt_set(job, s, "good_prompts"), (std::vector<Prompt>{{"Own system.", "Write a poem Thanks!"}}));

  s.suffix.clear();
  s.system_prompt = "";  // set but empty: still this set's own (method spec §3.2 sends it)
  EXPECT_EQ(load_prompt_set(job, s, "good_prompts"), (std::vector<Prompt>{{"", "Write a poem"}}));
}

TEST(PromptSet, EmptyResultNamesJobKeyAndDataset) {
  testing::TempDir dir;
  const fs::path file = dir.write("jobs/d/train.jsonl", jsonl(3));
  const config::Job job = job_in(dir);
  const std::string job_file = job.source_path.string();
  ASSERT_THROWS_WITH(load_prompt_set(job, spec("d", "train[5:]"), "bad_evaluation_prompts"), InputError,
                     fmt::format("{}: bad_evaluation_prompts: the prompt set is empty (dataset {}, split train[5:]; "
                                 "the file has 3 rows)",
                                 job_file, file.string()));
  dir.write("jobs/d/test.jsonl", "\n\n");
  ASSERT_THROWS_WITH(load_prompt_set(job, spec("d", "test"), "good_prompts"), InputError,
                     job_file + ": good_prompts: the prompt set is empty");
}

TEST(PromptSet, MissingDatasetNamesJobKeyAndResolvedPath) {
  testing::TempDir dir;
  const config::Job job = job_in(dir);
  const std::string job_file = job.source_path.string();
  ASSERT_THROWS_WITH(load_prompt_set(job, spec("data/nothing", "train"), "good_prompts"), InputError,
                     fmt::format("{}: good_prompts.dataset: no such file or folder: {}", job_file,
                                 (dir.path() / "jobs/data/nothing").string()));
  // Heretic's default names a Hub dataset: say why it is not found.
  ASSERT_THROWS_WITH(load_prompt_set(job, job.good_prompts, "good_prompts"), InputError,
                     "Hugging Face Hub ids are not downloaded");
}

TEST(PromptSet, FolderWithoutTheSplit) {
  testing::TempDir dir;
  dir.write("jobs/d/train.jsonl", jsonl(3));
  const config::Job job = job_in(dir);
  ASSERT_THROWS_WITH(load_prompt_set(job, spec("d", "validation[:5]"), "good_prompts"), InputError,
                     fmt::format("{}: good_prompts.split: the folder {} has no validation.jsonl or validation.txt",
                                 job.source_path.string(), (dir.path() / "jobs/d").string()));
  dir.write("jobs/saved/state.json", "{}");
  ASSERT_THROWS_WITH(load_prompt_set(job, spec("saved", "train"), "good_prompts"), InputError,
                     "save_to_disk folder, which is not supported");
}

TEST(PromptSet, BadSplitAndFormat) {
  testing::TempDir dir;
  dir.write("jobs/d/train.jsonl", jsonl(3));
  dir.write("jobs/p.csv", "text\na\n");
  const config::Job job = job_in(dir);
  ASSERT_THROWS_WITH(
      load_prompt_set(job, spec("d", "train[5]"), "good_prompts"), InputError,
      job.source_path.string() + ": good_prompts: split: expected NAME or NAME[start:stop], got \"train[5]\"");
  ASSERT_THROWS_WITH(load_prompt_set(job, spec("p.csv", "train"), "good_prompts"), InputError,
                     "good_prompts.dataset: ");
  ASSERT_THROWS_WITH(load_prompt_set(job, spec("p.csv", "train"), "good_prompts"), InputError,
                     "expected a .jsonl or .txt file, got \".csv\"");
}

TEST(PromptSet, BadRowNamesFileAndLine) {
  testing::TempDir dir;
  const fs::path file = dir.write("jobs/d/train.jsonl", "{\"text\": \"a\"}\n{\"prompt\": \"b\"}\n");
  ASSERT_THROWS_WITH(load_prompt_set(job_in(dir), spec("d", "train"), "bad_prompts"), InputError,
                     file.string() + ":2: missing field \"text\"");
}

// The project's own prompt sets (jobs/data/): counts, no blanks, no
// duplicates, and no prompt in both the harmless and the harmful sets.
TEST(ProjectPromptSets, HaveTheirDocumentedShape) {
  config::Job job;
  job.source_path = fs::path(ABL_SOURCE_DIR) / "jobs/job.yaml";
  std::set<std::string> harmless;
  std::set<std::string> harmful;
  struct Set {
    const char* dataset;
    const char* split;
    std::size_t n_rows;
    std::set<std::string>* all;
  };
  for (const Set& s : {Set{"data/harmless", "train", 64, &harmless}, Set{"data/harmless", "test", 32, &harmless},
                       Set{"data/harmful", "train", 64, &harmful}, Set{"data/harmful", "test", 32, &harmful}}) {
    const auto prompts = load_prompt_set(job, spec(s.dataset, s.split), s.dataset);
    EXPECT_EQ(prompts.size(), s.n_rows) << s.dataset << " " << s.split;
    for (const Prompt& p : prompts) {
      EXPECT_FALSE(p.user.empty());
      EXPECT_EQ(p.user.find('\n'), std::string::npos) << p.user;
      EXPECT_TRUE(s.all->insert(p.user).second) << "duplicate: " << p.user;
    }
  }
  for (const std::string& p : harmless) EXPECT_EQ(harmful.count(p), 0u) << p;
}

}  // namespace
}  // namespace abliterate::data
