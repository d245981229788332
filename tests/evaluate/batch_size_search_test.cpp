// Batch size auto-detection (method spec §3.5) on the tiny random Gemma 3
// model, and on a wrapper of it that fails above a batch size, as running out
// of memory does.
#include "abliterate/evaluate/batch_size_search.hpp"

#include <gtest/gtest.h>

#include "abliterate/common/error.hpp"
#include "evaluate/tiny_model.hpp"
#include "support/throws_with.hpp"

namespace abliterate::evaluate {
namespace {

using testing::tiny_model;

std::vector<std::string> sample_prompts() {
  return {tiny_model().format_chat("", "Hello there"), tiny_model().format_chat("", "Tell me a story"),
          tiny_model().format_chat("", "Why is the sky blue?")};
}

// The tiny model, except that generating more than `max_rows` rows at once
// throws, like a device running out of memory.
class RowLimitedModel : public model::Model {
 public:
  RowLimitedModel(const model::Model& inner, int64_t max_rows) : inner_(inner), max_rows_(max_rows) {}
  const model::ModelConfig& config() const override { return inner_.config(); }
  const tokenizer::Tokenizer& tokenizer() const override { return inner_.tokenizer(); }
  const chat::ChatTemplate& chat_template() const override { return inner_.chat_template(); }
  torch::Device device() const override { return inner_.device(); }
  model::PromptBatch tokenize(const std::vector<std::string>& rendered) const override {
    return inner_.tokenize(rendered);
  }
  model::PrefillOutput prefill(const model::PromptBatch& batch, const model::ProjectionHook* hook,
                               bool capture_hidden) const override {
    return inner_.prefill(batch, hook, capture_hidden);
  }
  std::vector<std::vector<int64_t>> generate(const model::PromptBatch& batch, int64_t max_new_tokens,
                                             const model::ProjectionHook* hook,
                                             const model::RowStopFn& stop_early) const override {
    if (batch.input_ids.size(0) > max_rows_) throw std::runtime_error("CUDA out of memory (simulated)");
    return inner_.generate(batch, max_new_tokens, hook, stop_early);
  }
  torch::Tensor projection_weight(model::Projection which, int64_t layer_idx) const override {
    return inner_.projection_weight(which, layer_idx);
  }

 private:
  const model::Model& inner_;
  int64_t max_rows_;
};

TEST(BatchSizeSearchTest, TriesPowersOfTwoUpToTheLimitAndPicksTheFastest) {
  const BatchSizeChoice choice = choose_batch_size(tiny_model(), sample_prompts(), /*max_batch_size=*/6,
                                                   /*max_response_length=*/4);
  ASSERT_EQ(choice.trials.size(), 4u);
  const std::vector<int64_t> expected_sizes = {1, 2, 4, 6};
  double best = 0;
  int64_t best_size = 0;
  for (size_t i = 0; i < choice.trials.size(); ++i) {
    const BatchSizeTrial& trial = choice.trials[i];
    EXPECT_EQ(trial.batch_size, expected_sizes[i]);
    ASSERT_TRUE(trial.tokens_per_second.has_value()) << trial.error;
    EXPECT_GT(*trial.tokens_per_second, 0);
    if (*trial.tokens_per_second > best) {
      best = *trial.tokens_per_second;
      best_size = trial.batch_size;
    }
  }
  EXPECT_EQ(choice.batch_size, best_size);
}

TEST(BatchSizeSearchTest, StopsAtTheFirstFailureAndKeepsTheSizesThatRan) {
  const RowLimitedModel limited(tiny_model(), /*max_rows=*/2);
  const BatchSizeChoice choice = choose_batch_size(limited, sample_prompts(), 128, 4);
  ASSERT_EQ(choice.trials.size(), 3u);  // 1 and 2 ran, 4 failed, 8.. never tried
  EXPECT_TRUE(choice.trials[0].tokens_per_second.has_value());
  EXPECT_TRUE(choice.trials[1].tokens_per_second.has_value());
  EXPECT_FALSE(choice.trials[2].tokens_per_second.has_value());
  EXPECT_NE(choice.trials[2].error.find("out of memory"), std::string::npos);
  EXPECT_LE(choice.batch_size, 2);
  EXPECT_GE(choice.batch_size, 1);
}

TEST(BatchSizeSearchTest, AFailureAtBatchSizeOneIsRethrown) {
  const RowLimitedModel limited(tiny_model(), /*max_rows=*/0);
  EXPECT_THROW(choose_batch_size(limited, sample_prompts(), 8, 4), std::runtime_error);
}

TEST(BatchSizeSearchTest, RejectsNoPrompts) {
  ASSERT_THROWS_WITH(choose_batch_size(tiny_model(), {}, 8, 4), InputError, "no prompts");
}

}  // namespace
}  // namespace abliterate::evaluate
