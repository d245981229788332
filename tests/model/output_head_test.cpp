// OutputHead's greedy choice (Note [Screened greedy head]) against the argmax
// of every logit: float64 references on random heads whose maxima sit in
// every chunk, inputs with outlier features and all zeros, exact ties, float32
// differences below the screen's resolution, the sampleable range, the paths
// that must not screen, and real decode steps of both real models.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <iostream>
#include <limits>
#include <string>
#include <vector>

#include "abliterate/model/gguf_checkpoint.hpp"
#include "abliterate/model/decoder.hpp"
#include "abliterate/model/decoder_weights.hpp"
#include "abliterate/model/gguf_model_config.hpp"
#include "abliterate/model/model.hpp"
#include "abliterate/model/output_head.hpp"

namespace abliterate::model {
namespace {

// Where the screen runs at all: a float32 head on a CPU with native int8 dot products.
bool screens_here() { return PackedLinear::packs_cpu_weights() && PackedLinear::runs_int8_natively(); }

std::vector<int64_t> to_ids(const torch::Tensor& tokens) {
  const torch::Tensor flat = tokens.to(torch::kCPU).contiguous();
  return {flat.data_ptr<int64_t>(), flat.data_ptr<int64_t>() + flat.numel()};
}

// A head of several screened chunks (8192 ids each), so that maxima and ties
// fall on both sides of chunk boundaries.
constexpr int64_t kVocab = 40000;
constexpr int64_t kWidth = 96;

torch::Tensor random_head(int64_t seed) {
  torch::manual_seed(seed);
  return torch::randn({kVocab, kWidth}) * 0.05;  // float32 [V, d]
}

TEST(OutputHeadTest, ScreensAFloat32HeadWhereTheCpuHasNativeInt8) {
  const OutputHead head(random_head(1), 0);
  EXPECT_EQ(head.is_screened(), screens_here());
  std::cout << "the screen " << (head.is_screened() ? "runs" : "does not run") << " on this machine\n";
}

TEST(OutputHeadTest, ChoosesTheFloat64ArgmaxWhereverTheMaximumIs) {
  const torch::Tensor weight = random_head(2);
  const OutputHead head(weight, 0);
  // Rows of three scales, and rows pointed at ids in the first chunk, the
  // second chunk and the very last id.
  std::vector<torch::Tensor> rows;
  for (const double scale : {1e-3, 1.0, 30.0}) rows.push_back(torch::randn({4, kWidth}) * scale);
  const std::vector<int64_t> targets{7, 32767, 32768, 35001, kVocab - 1};
  for (const int64_t target : targets) {
    rows.push_back((weight[target] * 40 + torch::randn({kWidth}) * 0.1).unsqueeze(0));
  }
  const torch::Tensor x = torch::cat(rows, 0);  // float32 [B, d]
  const torch::Tensor exact = torch::matmul(x.to(torch::kFloat64), weight.to(torch::kFloat64).t());  // [B, V]
  const auto [top, top_ids] = exact.topk(2, 1);
  const std::vector<int64_t> chosen = to_ids(head.greedy_tokens(x, 0));
  const std::vector<int64_t> expected = to_ids(top_ids.select(1, 0));
  int64_t n_compared = 0;
  for (int64_t row = 0; row < x.size(0); ++row) {
    // A float32 product is ~1e-7 of its scale from the exact one; a closer
    // second place may go either way.
    const double gap = (top[row][0] - top[row][1]).item<double>();
    if (gap <= 1e-5 * top[row][0].abs().item<double>()) continue;
    ++n_compared;
    EXPECT_EQ(chosen[static_cast<size_t>(row)], expected[static_cast<size_t>(row)]) << "row " << row;
  }
  EXPECT_GE(n_compared, x.size(0) - 1);
  EXPECT_EQ(chosen, to_ids(greedy_tokens(head.logits(x), 0)));
  for (size_t i = 0; i < targets.size(); ++i) EXPECT_EQ(chosen[12 + i], targets[i]) << "the row pointed at " << targets[i];
}

// Activations with outlier features (Gemma's final norm makes some features
// tens of times the others): the screen's second int8 level keeps what the
// first one's coarse step leaves. An all-zero row ties every id at 0: id 0.
TEST(OutputHeadTest, OutlierFeaturesAndZeroRowsChooseTheFloat64Argmax) {
  const torch::Tensor weight = random_head(5);
  const OutputHead head(weight, 0);
  torch::Tensor x = torch::randn({9, kWidth});
  for (int64_t row = 0; row < 8; ++row) x[row][row * 7] = 60.0 * static_cast<double>(row + 1);  // outliers up to 480x
  x[8].zero_();
  const torch::Tensor exact = torch::matmul(x.to(torch::kFloat64), weight.to(torch::kFloat64).t());  // [B, V]
  const auto [top, top_ids] = exact.topk(2, 1);
  const std::vector<int64_t> chosen = to_ids(head.greedy_tokens(x, 0));
  for (int64_t row = 0; row < 8; ++row) {
    if ((top[row][0] - top[row][1]).item<double>() <= 1e-5 * top[row][0].abs().item<double>()) continue;
    EXPECT_EQ(chosen[static_cast<size_t>(row)], top_ids[row][0].item<int64_t>()) << "row " << row;
  }
  EXPECT_EQ(chosen[8], 0);
  EXPECT_EQ(chosen, to_ids(greedy_tokens(head.logits(x), 0)));
}

TEST(OutputHeadTest, TiesGoToTheLowestId) {
  torch::Tensor weight = random_head(3);
  weight[100].copy_(weight[33000]);
  weight[39000].copy_(weight[33000]);
  weight[5].copy_(weight[20]);
  const OutputHead head(weight, 0);
  torch::Tensor x = torch::stack({weight[33000] * 50, weight[20] * 50});  // [2, d]
  EXPECT_EQ(to_ids(head.greedy_tokens(x, 0)), (std::vector<int64_t>{100, 5}));
  // Without id 100 in the range, the tie is between 33000 and 39000.
  weight[100].copy_(torch::randn({kWidth}) * 0.05);
  const OutputHead without_first(weight, 0);
  EXPECT_EQ(to_ids(without_first.greedy_tokens(x.narrow(0, 0, 1), 0)), (std::vector<int64_t>{33000}));
}

TEST(OutputHeadTest, Float32DifferencesBelowTheScreensResolutionDecide) {
  // Ids 10 and 20 differ in two features. In bfloat16 (spacing 2^-7 at 1)
  // id 10's row is the larger, 1.0078 against 1.0 in feature 0; in float32 id
  // 20's logit is larger by 5e-2 in row 0: the screen alone would choose 10.
  // Row 1 turns both features around: 20 leads the screen, 10 by 1e-2 in float32.
  torch::Tensor weight = random_head(4);
  weight[10].copy_(torch::randn({kWidth}));  // larger than the others, so that 10 and 20 lead
  weight[20].copy_(weight[10]);
  weight[10][0] = 1.0040f;  // bfloat16: 1.0078
  weight[20][0] = 1.0038f;  // bfloat16: 1.0
  weight[10][1] = 1.0f;
  weight[20][1] = 1.0003f;  // bfloat16: 1.0
  const OutputHead head(weight, 0);
  torch::Tensor toward = weight[10] * 5;
  toward[0] = 100.0f;
  toward[1] = 100.0f;
  torch::Tensor away = toward.clone();
  away[0] = -100.0f;
  away[1] = -100.0f;
  const torch::Tensor x = torch::stack({toward, away});  // [2, d]
  const torch::Tensor exact = torch::matmul(x.to(torch::kFloat64), weight.to(torch::kFloat64).t());
  ASSERT_EQ(to_ids(exact.argmax(1)), (std::vector<int64_t>{20, 10}));
  EXPECT_EQ(to_ids(head.greedy_tokens(x, 0)), (std::vector<int64_t>{20, 10}));
}

TEST(OutputHeadTest, ChoosesOnlySampleableIds) {
  const torch::Tensor weight = random_head(5);
  const OutputHead head(weight, 0);
  const torch::Tensor x = (weight[kVocab - 3] * 60).unsqueeze(0);  // [1, d]: the largest logit is past the range
  ASSERT_EQ(to_ids(head.greedy_tokens(x, 0)), (std::vector<int64_t>{kVocab - 3}));
  const int64_t n_sampleable = kVocab - 10;
  const torch::Tensor exact = torch::matmul(x.to(torch::kFloat64), weight.narrow(0, 0, n_sampleable).to(torch::kFloat64).t());
  EXPECT_EQ(to_ids(head.greedy_tokens(x, n_sampleable)), to_ids(exact.argmax(1)));
}

// The CPU head runs in slices of 4096 ids (Note [Head in slices]): logits()
// joins them, and the greedy choice stops where the sampleable ids do, also
// on a slice boundary and inside the first slice.
TEST(OutputHeadTest, SlicesJoinToEveryLogitAndStopWithTheSampleableIds) {
  const torch::Tensor weight = random_head(8);
  const OutputHead head(weight, 0);
  const torch::Tensor x = torch::randn({6, kWidth});
  const torch::Tensor logits = head.logits(x);
  ASSERT_EQ(logits.sizes(), (std::vector<int64_t>{6, kVocab}));
  EXPECT_TRUE(torch::allclose(logits, torch::linear(x, weight), 1e-5, 1e-5));
  for (const int64_t n_sampleable : {int64_t{4096}, int64_t{8192}, int64_t{8193}, int64_t{700}}) {
    EXPECT_EQ(to_ids(head.greedy_tokens(x, n_sampleable)), to_ids(greedy_tokens(logits, n_sampleable)))
        << n_sampleable << " sampleable ids";
  }
}

TEST(OutputHeadTest, NonFiniteInputsTakeEveryLogit) {
  const torch::Tensor weight = random_head(6);
  const OutputHead head(weight, 0);
  torch::Tensor x = torch::randn({3, kWidth});
  x[1][4] = std::numeric_limits<float>::quiet_NaN();
  x[2][0] = std::numeric_limits<float>::infinity();
  EXPECT_EQ(to_ids(head.greedy_tokens(x, 0)), to_ids(greedy_tokens(head.logits(x), 0)));
}

TEST(OutputHeadTest, Bfloat16SoftcappedAndNonFiniteHeadsTakeEveryLogit) {
  const torch::Tensor weight = random_head(7);
  const torch::Tensor x = torch::randn({5, kWidth});
  const OutputHead bf16(weight.to(torch::kBFloat16), 0);
  EXPECT_FALSE(bf16.is_screened());
  const torch::Tensor x_bf16 = x.to(torch::kBFloat16);
  EXPECT_EQ(to_ids(bf16.greedy_tokens(x_bf16, 0)), to_ids(greedy_tokens(bf16.logits(x_bf16), 0)));
  const OutputHead capped(weight, 30.0);
  EXPECT_FALSE(capped.is_screened());
  EXPECT_TRUE(torch::allclose(capped.logits(x), torch::tanh(torch::linear(x, weight) / 30.0) * 30.0, 1e-5, 1e-5));
  EXPECT_EQ(to_ids(capped.greedy_tokens(x, 0)), to_ids(greedy_tokens(capped.logits(x), 0)));
  torch::Tensor broken = weight.clone();
  broken[123][4] = std::numeric_limits<float>::quiet_NaN();  // the screen's bound needs finite weights
  const OutputHead unscreened(broken, 0);
  EXPECT_FALSE(unscreened.is_screened());
  EXPECT_EQ(to_ids(unscreened.greedy_tokens(x, 0)), to_ids(greedy_tokens(unscreened.logits(x), 0)));
}

// Real decode steps: at every step of 8 prompts x 24 tokens, the screened
// choice equals the argmax of every logit the same pass computed.
void expect_real_steps_equal_every_logit(const char* file) {
  const std::filesystem::path path = std::filesystem::path(ABL_SOURCE_DIR) / "models" / file;
  ASSERT_TRUE(std::filesystem::exists(path)) << path << " is missing: run scripts/setup to download the test models";
  const auto model = Model::load(path, LoadOptions{});
  GgufCheckpoint checkpoint = GgufCheckpoint::open(path);
  const ModelConfig config = model_config_from_gguf(checkpoint.reader());
  const Decoder decoder(config, load_decoder_weights(checkpoint, config, torch::TensorOptions().dtype(torch::kFloat32)));
  EXPECT_EQ(decoder.head().is_screened(), screens_here());
  const int64_t n_sampleable = model->tokenizer().vocab_size();

  std::vector<std::string> prompts;
  for (const char* text : {"Write a haiku about rain.", "What is the capital of France?", "List three prime numbers.",
                           "How do I bake bread?", "Explain photosynthesis briefly.", "Name a famous painter.",
                           "Translate 'good morning' into Spanish.", "Tell me a fun fact about octopuses."}) {
    prompts.push_back(model->format_chat("", text));
  }
  const PromptBatch batch = model->tokenize(prompts);
  KvCache cache(config.n_layers);
  torch::Tensor key_mask = batch.attention_mask.to(torch::kBool);
  torch::Tensor positions = positions_from_mask(batch.attention_mask);
  DecoderInput input{batch.input_ids, positions, key_mask};
  int64_t n_steps = 0;
  for (int step = 0; step < 24; ++step) {
    const DecoderOutput out = decoder.forward(input, &cache, nullptr, HiddenCapture::last_position);
    const torch::Tensor last = out.hidden.select(1, config.n_layers);  // float32 [B, d]: the head's input
    const torch::Tensor every = greedy_tokens(out.logits, n_sampleable);
    ASSERT_EQ(to_ids(decoder.head().greedy_tokens(last, n_sampleable)), to_ids(every)) << file << " step " << step;
    ++n_steps;
    positions = positions.select(1, positions.size(1) - 1).unsqueeze(1) + 1;  // [B, 1]
    key_mask = torch::cat({key_mask, torch::ones({key_mask.size(0), 1}, key_mask.options())}, 1);
    input = DecoderInput{every.view({-1, 1}), positions, key_mask};
  }
  EXPECT_EQ(n_steps, 24);
}

TEST(OutputHeadTest, Gemma3_270mStepsEqualEveryLogit) { expect_real_steps_equal_every_logit("gemma-3-270m-q4_k_m.gguf"); }

TEST(OutputHeadTest, SmolLM2_135mStepsEqualEveryLogit) {
  expect_real_steps_equal_every_logit("SmolLM2-135M-Instruct.Q4_1.gguf");
}

}  // namespace
}  // namespace abliterate::model
