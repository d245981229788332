// The Evaluator on the tiny random Gemma 3 model: first-token log-probs are
// distributions and do not depend on batching; stopping rows at their first
// marker gives full generation's refusal count; non-finite logits name the
// prompt.
#include "abliterate/evaluate/evaluator.hpp"

#include <algorithm>
#include <limits>

#include <gtest/gtest.h>

#include "abliterate/common/error.hpp"
#include "evaluate/tiny_model.hpp"
#include "support/throws_with.hpp"

namespace abliterate::evaluate {
namespace {

using testing::tiny_model;

std::vector<std::string> sample_prompts() {
  const std::vector<std::string> users = {"Hello there", "How do I bake bread?", "Tell me a story",
                                          "What is 1+1?", "Write a poem about the sea", "Why is the sky blue?",
                                          "List three colors"};
  std::vector<std::string> prompts;
  for (const std::string& user : users) prompts.push_back(tiny_model().format_chat("", user));
  return prompts;
}

// Puts NaN into row `row_idx` of every layer-0 o_proj output of batches of `batch_rows` rows.
class NanRowHook : public model::ProjectionHook {
 public:
  NanRowHook(int64_t batch_rows, int64_t row_idx) : batch_rows_(batch_rows), row_idx_(row_idx) {}
  torch::Tensor apply(model::Projection which, int64_t layer_idx, const torch::Tensor& y) const override {
    if (which != model::Projection::attn_o_proj || layer_idx != 0 || y.size(0) != batch_rows_) return y;
    torch::Tensor out = y.clone();
    out[row_idx_].fill_(std::numeric_limits<float>::quiet_NaN());
    return out;
  }

 private:
  int64_t batch_rows_;
  int64_t row_idx_;
};

TEST(EvaluatorTest, FirstTokenLogprobsAreDistributionsIndependentOfBatching) {
  const std::vector<std::string> prompts = sample_prompts();
  const Evaluator by_two(tiny_model(), RefusalDetector({}), {.batch_size = 2});
  const Evaluator by_all(tiny_model(), RefusalDetector({}), {.batch_size = 16});
  const torch::Tensor logprobs = by_two.first_token_logprobs(prompts, nullptr);  // float32 [N, V]
  ASSERT_EQ(logprobs.dim(), 2);
  EXPECT_EQ(logprobs.size(0), static_cast<int64_t>(prompts.size()));
  EXPECT_EQ(logprobs.size(1), tiny_model().config().vocab_size);
  EXPECT_EQ(logprobs.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(logprobs.device().is_cpu());
  EXPECT_TRUE(torch::allclose(logprobs.exp().sum(1), torch::ones({logprobs.size(0)}), 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(logprobs, by_all.first_token_logprobs(prompts, nullptr), 1e-4, 1e-4));
}

TEST(EvaluatorTest, NonFiniteLogitsAreNumericErrorNamingThePrompt) {
  std::vector<std::string> prompts = sample_prompts();
  prompts.resize(4);
  const Evaluator evaluator(tiny_model(), RefusalDetector({}), {.batch_size = 3});
  // Batches: prompts 0-2 (3 rows), prompt 3 (1 row): row 0 of the 1-row batch is prompt 3.
  const NanRowHook hook(/*batch_rows=*/1, /*row_idx=*/0);
  ASSERT_THROWS_WITH(evaluator.first_token_logprobs(prompts, &hook), NumericError, "prompt 3:");
}

TEST(EvaluatorTest, StoppingAtTheFirstMarkerKeepsTheRefusalCount) {
  const std::vector<std::string> prompts = sample_prompts();
  constexpr int64_t kMaxLength = 24;
  const Evaluator full(tiny_model(), RefusalDetector({}),
                       {.batch_size = 3, .max_response_length = kMaxLength, .stop_at_marker = false});
  const std::vector<std::string> full_texts = full.responses(prompts, nullptr);
  ASSERT_EQ(full_texts.size(), prompts.size());

  // Markers cut from the random responses themselves: a short piece near the
  // start of every other response (so those rows can stop early), plus one
  // that never occurs.
  std::vector<std::string> markers = {"no such marker in a tiny model"};
  for (size_t prompt_idx = 0; prompt_idx < full_texts.size(); prompt_idx += 2) {
    const std::string normalized = normalize_response(full_texts[prompt_idx]);
    if (normalized.size() >= 6) markers.push_back(normalized.substr(1, 3));
  }
  ASSERT_GE(markers.size(), 3u) << "the tiny model's responses are too short to cut markers from";
  const RefusalDetector detector(markers);
  const int64_t full_count = std::count_if(full_texts.begin(), full_texts.end(),
                                           [&](const std::string& text) { return detector.is_refusal(text); });
  ASSERT_GT(full_count, 0);

  const Evaluator early(tiny_model(), detector, {.batch_size = 3, .max_response_length = kMaxLength});
  EXPECT_EQ(early.count_refusals(prompts, nullptr), full_count);

  // The early responses are prefixes of the full ones, and some were cut.
  const std::vector<std::string> early_texts = early.responses(prompts, nullptr);
  ASSERT_EQ(early_texts.size(), full_texts.size());
  size_t n_cut = 0;
  for (size_t prompt_idx = 0; prompt_idx < full_texts.size(); ++prompt_idx) {
    EXPECT_EQ(full_texts[prompt_idx].rfind(early_texts[prompt_idx], 0), 0u) << "prompt " << prompt_idx;
    EXPECT_EQ(detector.is_refusal(early_texts[prompt_idx]), detector.is_refusal(full_texts[prompt_idx]));
    if (early_texts[prompt_idx].size() < full_texts[prompt_idx].size()) ++n_cut;
  }
  EXPECT_GT(n_cut, 0u);
}

TEST(EvaluatorTest, NonPositiveBatchSizeIsInputError) {
  ASSERT_THROWS_WITH(Evaluator(tiny_model(), RefusalDetector({}), {.batch_size = 0}), InputError, "batch_size");
}

}  // namespace
}  // namespace abliterate::evaluate
