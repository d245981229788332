// DivergenceStop (prefix detection's early stop): rows stop once their settled
// texts differ, never while one is a prefix of another or while the
// difference lies in unsettled byte pieces; and prefix_probe_responses gives
// the same common prefix with the stop as without it.
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>

#include <fmt/format.h>

#include "abliterate/config/job.hpp"
#include "abliterate/evaluate/divergence_stop.hpp"
#include "abliterate/evaluate/evaluator.hpp"
#include "abliterate/method/response_prefix.hpp"
#include "evaluate/tiny_model.hpp"

namespace abliterate::evaluate {
namespace {

using testing::tiny_model;

TEST(DivergenceStopTest, StopsOnceSettledTextsDiffer) {
  const tokenizer::Tokenizer& tokenizer = tiny_model().tokenizer();
  DivergenceStop stop(tokenizer, 2);
  EXPECT_FALSE(stop(0, tokenizer.encode("the cat")));  // row 1 has no text yet
  EXPECT_FALSE(stop(1, tokenizer.encode("the")));      // a prefix of row 0: both may still agree
  EXPECT_TRUE(stop(1, tokenizer.encode("the dog")));
  EXPECT_TRUE(stop(0, tokenizer.encode("the cat")));   // once diverged, every row hears it
}

TEST(DivergenceStopTest, IgnoresADifferenceInUnsettledBytePieces) {
  const tokenizer::Tokenizer& tokenizer = tiny_model().tokenizer();
  std::vector<int64_t> tab = tokenizer.encode("a");
  std::vector<int64_t> newline = tab;
  tab.push_back(tokenizer.token_id("<0x09>"));
  newline.push_back(tokenizer.token_id("<0x0A>"));
  ASSERT_NE(tokenizer.decode(tab, false), tokenizer.decode(newline, false));
  DivergenceStop stop(tokenizer, 2);
  EXPECT_FALSE(stop(0, tab));
  // "a\t" and "a\n" differ, but a later byte may turn either run into U+FFFD.
  EXPECT_FALSE(stop(1, newline));
  newline.push_back(tokenizer.encode("b").front());
  tab.push_back(tokenizer.encode("b").front());
  EXPECT_FALSE(stop(1, newline));
  EXPECT_TRUE(stop(0, tab));
}

TEST(DivergenceStopTest, OneRowNeverStopsEarly) {
  const tokenizer::Tokenizer& tokenizer = tiny_model().tokenizer();
  DivergenceStop stop(tokenizer, 1);
  EXPECT_FALSE(stop(0, tokenizer.encode("anything at all")));
}

// SmolLM2 answers "What is the capital of X?" with "The capital of X is ...":
// a real common prefix, which the early stop must keep while generating less.
TEST(DivergenceStopTest, SmolLM2CommonPrefixEqualsWholeResponses) {
  const std::filesystem::path path = std::filesystem::path(ABL_SOURCE_DIR) / "models/SmolLM2-135M-Instruct.Q4_1.gguf";
  ASSERT_TRUE(std::filesystem::exists(path)) << path << " is missing: run scripts/setup to download the test models";
  const std::unique_ptr<model::Model> model = model::Model::load(path, model::LoadOptions{});
  const config::Job defaults;
  std::vector<std::string> prompts;
  for (const char* country : {"France", "Japan", "Egypt", "Canada", "Peru", "Kenya"}) {
    prompts.push_back(model->format_chat(defaults.system_prompt, fmt::format("What is the capital of {}?", country)));
  }
  const Evaluator evaluator(*model, RefusalDetector({}), {.batch_size = 6, .max_response_length = 24});
  const std::vector<std::string> whole = evaluator.prefix_probe_responses(prompts, nullptr, /*stop_once_diverged=*/false);
  const std::vector<std::string> early = evaluator.prefix_probe_responses(prompts, nullptr);
  const std::string whole_prefix = method::common_prefix(whole);
  EXPECT_EQ(method::common_prefix(early), whole_prefix);
  EXPECT_EQ(whole_prefix, "The capital of");
  size_t whole_bytes = 0;
  size_t early_bytes = 0;
  for (size_t idx = 0; idx < whole.size(); ++idx) {
    whole_bytes += whole[idx].size();
    early_bytes += early[idx].size();
  }
  EXPECT_LT(early_bytes, whole_bytes) << "the batch did not stop early";
  std::cout << "[ prefix   ] '" << whole_prefix << "': " << early_bytes << " bytes generated instead of "
            << whole_bytes << "\n";
}

}  // namespace
}  // namespace abliterate::evaluate
