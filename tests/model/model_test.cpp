// Model on the tiny Gemma 3 folder: loading and its errors, tokenize, prefill
// against an independent per-position reference of spec §1.1 (float64),
// left-padding invariance, hidden-state layout (method spec §4.1), hooks, and
// KV-cache generation against full recomputation.
#include <algorithm>
#include <cmath>
#include <numbers>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "abliterate/common/error.hpp"
#include "abliterate/formats/safetensors_reader.hpp"
#include "abliterate/formats/safetensors_writer.hpp"
#include "abliterate/model/model.hpp"
#include "abliterate/model/tiny_model.hpp"
#include "model/model_test_support.hpp"
#include "support/throws_with.hpp"

namespace abliterate::model {
namespace {

using testing::TempDir;

constexpr double kFp32Tolerance = 1e-5;

const Model& tiny_model() {
  static const std::unique_ptr<Model> model = Model::load(testing::tiny_model_folder(), LoadOptions{});
  return *model;
}

// --- An independent reference: one sequence, one position at a time, float64 ---

torch::Tensor ref_weight(const formats::SafetensorsReader& file, const std::string& name) {
  return file.read(name).to(torch::kFloat64);
}

torch::Tensor ref_norm(const torch::Tensor& x, const torch::Tensor& w, double eps) {
  return x / torch::sqrt(x.pow(2).mean() + eps) * (1 + w);
}

// NeoX rotation of one head vector x [D] at position p with base theta.
torch::Tensor ref_rope(const torch::Tensor& x, int64_t p, double theta) {
  const int64_t half = x.size(0) / 2;
  torch::Tensor out = x.clone();
  for (int64_t i = 0; i < half; ++i) {
    const double angle = static_cast<double>(p) * std::pow(theta, -2.0 * static_cast<double>(i) / x.size(0));
    const double a = x[i].item<double>();
    const double b = x[i + half].item<double>();
    out[i] = a * std::cos(angle) - b * std::sin(angle);
    out[i + half] = b * std::cos(angle) + a * std::sin(angle);
  }
  return out;
}

struct Reference {
  torch::Tensor logits;  // float64 [V]
  torch::Tensor hidden;  // float64 [L+1, d] at the last position
};

Reference reference_forward(const ModelConfig& c, const std::vector<int64_t>& ids) {
  const formats::SafetensorsReader file =
      formats::SafetensorsReader::open(testing::tiny_model_folder() / "model.safetensors");
  const auto w = [&](const std::string& name) { return ref_weight(file, name); };
  const auto n_positions = static_cast<int64_t>(ids.size());
  const torch::Tensor embed = w("model.embed_tokens.weight");
  std::vector<torch::Tensor> h;
  for (int64_t id : ids) h.push_back(embed[id] * std::sqrt(static_cast<double>(c.hidden_size)));
  std::vector<torch::Tensor> hidden{h.back()};
  const int64_t group = c.n_heads / c.n_kv_heads;
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    const bool sliding = c.layer_types[static_cast<size_t>(l)] == AttentionKind::sliding;
    const double theta = sliding ? c.rope_local_theta : c.rope_theta;
    std::vector<torch::Tensor> q(static_cast<size_t>(n_positions)), k(q.size()), v(q.size());
    for (int64_t t = 0; t < n_positions; ++t) {
      const torch::Tensor a = ref_norm(h[t], w(p + "input_layernorm.weight"), c.rms_norm_eps);
      const torch::Tensor qt = torch::mv(w(p + "self_attn.q_proj.weight"), a).view({c.n_heads, c.head_dim});
      const torch::Tensor kt = torch::mv(w(p + "self_attn.k_proj.weight"), a).view({c.n_kv_heads, c.head_dim});
      v[t] = torch::mv(w(p + "self_attn.v_proj.weight"), a).view({c.n_kv_heads, c.head_dim});
      q[t] = torch::empty_like(qt);
      k[t] = torch::empty_like(kt);
      for (int64_t hd = 0; hd < c.n_heads; ++hd)
        q[t][hd] = ref_rope(ref_norm(qt[hd], w(p + "self_attn.q_norm.weight"), c.rms_norm_eps), t, theta);
      for (int64_t hd = 0; hd < c.n_kv_heads; ++hd)
        k[t][hd] = ref_rope(ref_norm(kt[hd], w(p + "self_attn.k_norm.weight"), c.rms_norm_eps), t, theta);
    }
    for (int64_t t = 0; t < n_positions; ++t) {
      std::vector<torch::Tensor> heads;
      for (int64_t hd = 0; hd < c.n_heads; ++hd) {
        const int64_t kv = hd / group;
        std::vector<double> scores;
        std::vector<int64_t> seen;
        for (int64_t s = 0; s <= t; ++s) {
          if (sliding && t - s >= c.sliding_window) continue;
          scores.push_back(torch::dot(q[t][hd], k[s][kv]).item<double>() / std::sqrt(c.query_pre_attn_scalar));
          seen.push_back(s);
        }
        const double top = *std::max_element(scores.begin(), scores.end());
        double total = 0;
        for (double& score : scores) total += (score = std::exp(score - top));
        torch::Tensor out = torch::zeros({c.head_dim}, torch::kFloat64);
        for (size_t i = 0; i < seen.size(); ++i) out += scores[i] / total * v[seen[i]][kv];
        heads.push_back(out);
      }
      const torch::Tensor y = torch::mv(w(p + "self_attn.o_proj.weight"), torch::cat(heads));
      h[t] = h[t] + ref_norm(y, w(p + "post_attention_layernorm.weight"), c.rms_norm_eps);
      const torch::Tensor m = ref_norm(h[t], w(p + "pre_feedforward_layernorm.weight"), c.rms_norm_eps);
      const torch::Tensor g = torch::mv(w(p + "mlp.gate_proj.weight"), m);
      const torch::Tensor gelu = 0.5 * g * (1 + torch::tanh(std::sqrt(2.0 / std::numbers::pi) * (g + 0.044715 * g.pow(3))));
      const torch::Tensor down = torch::mv(w(p + "mlp.down_proj.weight"), gelu * torch::mv(w(p + "mlp.up_proj.weight"), m));
      h[t] = h[t] + ref_norm(down, w(p + "post_feedforward_layernorm.weight"), c.rms_norm_eps);
    }
    if (l + 1 < c.n_layers) hidden.push_back(h.back());
  }
  const torch::Tensor final_state = ref_norm(h.back(), w("model.norm.weight"), c.rms_norm_eps);
  hidden.push_back(final_state);
  return Reference{torch::mv(embed, final_state), torch::stack(hidden)};
}

PromptBatch single_row(const std::vector<int64_t>& ids) {
  const auto n = static_cast<int64_t>(ids.size());
  return PromptBatch{torch::tensor(ids, torch::kInt64).view({1, n}), torch::ones({1, n}, torch::kInt64)};
}

// --- Tests ---

TEST(ModelTest, LoadsTheTinyFolder) {
  const Model& model = tiny_model();
  EXPECT_EQ(model.config().n_layers, 4);
  EXPECT_EQ(model.device(), torch::Device(torch::kCPU));
  EXPECT_EQ(model.tokenizer().vocab_size(), model.config().vocab_size);
  EXPECT_EQ(model.format_chat("Be helpful.", "Hello"),
            "<bos><start_of_turn>user\nBe helpful.\n\nHello<end_of_turn>\n<start_of_turn>model\n");
  EXPECT_STREQ(to_string(Projection::attn_o_proj), "attn.o_proj");
  EXPECT_STREQ(to_string(Projection::mlp_down_proj), "mlp.down_proj");
}

TEST(ModelTest, TokenizeLeftPadsWithOneBos) {
  const Model& model = tiny_model();
  const std::string short_prompt = model.format_chat("", "Hi");
  const std::string long_prompt = model.format_chat("Be helpful.", "How do I write a story about the sea?");
  const PromptBatch batch = model.tokenize({short_prompt, long_prompt});
  const auto short_ids = model.tokenizer().encode(short_prompt);
  const auto long_ids = model.tokenizer().encode(long_prompt);
  ASSERT_EQ(batch.input_ids.sizes(), (std::vector<int64_t>{2, static_cast<int64_t>(long_ids.size())}));
  const int64_t n_pad = static_cast<int64_t>(long_ids.size() - short_ids.size());
  EXPECT_EQ(batch.attention_mask[0].sum().item<int64_t>(), static_cast<int64_t>(short_ids.size()));
  EXPECT_EQ(batch.attention_mask[0][n_pad - 1].item<int64_t>(), 0);
  EXPECT_EQ(batch.input_ids[0][0].item<int64_t>(), kTinyPadId);
  EXPECT_EQ(batch.input_ids[0][n_pad].item<int64_t>(), kTinyBosId);
  EXPECT_EQ(batch.input_ids[1][0].item<int64_t>(), kTinyBosId);
  EXPECT_NE(batch.input_ids[1][1].item<int64_t>(), kTinyBosId);  // no double BOS
  EXPECT_EQ(batch.attention_mask[1].sum().item<int64_t>(), static_cast<int64_t>(long_ids.size()));
}

TEST(ModelTest, PrefillMatchesPerPositionReferenceBeyondTheSlidingWindow) {
  const Model& model = tiny_model();
  const std::vector<int64_t> ids = model.tokenizer().encode(model.format_chat("", "Write a poem about the moon and the stars, please."));
  ASSERT_GT(static_cast<int64_t>(ids.size()), 2 * model.config().sliding_window);
  const PrefillOutput out = model.prefill(single_row(ids), nullptr, /*capture_hidden=*/true);
  const Reference ref = reference_forward(model.config(), ids);
  EXPECT_TRUE(torch::allclose(out.logits[0].to(torch::kFloat64), ref.logits, 1e-4, 1e-4))
      << (out.logits[0].to(torch::kFloat64) - ref.logits).abs().max().item<double>();
  EXPECT_TRUE(torch::allclose(out.hidden[0].to(torch::kFloat64), ref.hidden, 1e-4, 1e-4))
      << (out.hidden[0].to(torch::kFloat64) - ref.hidden).abs().max().item<double>();
}

TEST(ModelTest, HiddenStatesFollowTheHfLayout) {
  const Model& model = tiny_model();
  const ModelConfig& c = model.config();
  const std::vector<int64_t> ids = model.tokenizer().encode(model.format_chat("", "What is the capital of France?"));
  const PrefillOutput out = model.prefill(single_row(ids), nullptr, true);
  ASSERT_EQ(out.hidden.sizes(), (std::vector<int64_t>{1, c.n_layers + 1, c.hidden_size}));
  EXPECT_EQ(out.hidden.scalar_type(), torch::kFloat32);
  EXPECT_EQ(out.logits.sizes(), (std::vector<int64_t>{1, c.vocab_size}));
  const formats::SafetensorsReader file =
      formats::SafetensorsReader::open(testing::tiny_model_folder() / "model.safetensors");
  const torch::Tensor embed = file.read("model.embed_tokens.weight");  // float32 [V, d]
  // Entry 0: the scaled embedding of the last token.
  EXPECT_TRUE(torch::allclose(out.hidden[0][0], embed[ids.back()] * std::sqrt(64.0f), 1e-6, 1e-6));
  // Entry L: the final-norm output, the state the tied head turns into logits.
  EXPECT_TRUE(torch::allclose(torch::mv(embed, out.hidden[0][c.n_layers]), out.logits[0], 1e-5, 1e-5));
  // Entry L is normalized (RMS near the gain), the raw residual before it is not.
  EXPECT_GT((out.hidden[0][c.n_layers - 1] - out.hidden[0][c.n_layers]).abs().max().item<float>(), 1e-3f);
}

TEST(ModelTest, LeftPaddedBatchEqualsEachPromptAlone) {
  const Model& model = tiny_model();
  const std::vector<std::string> prompts = {
      model.format_chat("", "Hi"), model.format_chat("Be helpful.", "Explain how the weather changes in summer."),
      model.format_chat("", "Tell me about the history of the city.")};
  const PrefillOutput batched = model.prefill(model.tokenize(prompts), nullptr, true);
  for (size_t row = 0; row < prompts.size(); ++row) {
    const PrefillOutput alone = model.prefill(model.tokenize({prompts[row]}), nullptr, true);
    EXPECT_TRUE(torch::allclose(batched.logits[static_cast<int64_t>(row)], alone.logits[0], kFp32Tolerance,
                                kFp32Tolerance))
        << "row " << row;
    EXPECT_TRUE(torch::allclose(batched.hidden[static_cast<int64_t>(row)], alone.hidden[0], kFp32Tolerance,
                                kFp32Tolerance))
        << "row " << row;
  }
}

TEST(ModelTest, RejectsBatchesThatAreNotLeftPadded) {
  const Model& model = tiny_model();
  PromptBatch batch = model.tokenize({"<bos>Hi", "<bos>How are you?"});
  batch.attention_mask = batch.attention_mask.flip({1});
  ASSERT_THROWS_WITH(model.prefill(batch, nullptr, false), InputError, "left padded");
}

// Records every call and returns y unchanged.
class RecordingHook : public ProjectionHook {
 public:
  torch::Tensor apply(Projection which, int64_t layer_idx, const torch::Tensor& y) const override {
    calls.emplace_back(which, layer_idx);
    shapes.push_back(y.sizes().vec());
    return y;
  }
  mutable std::vector<std::pair<Projection, int64_t>> calls;
  mutable std::vector<std::vector<int64_t>> shapes;
};

// Zeroes the output of one projection.
class ZeroingHook : public ProjectionHook {
 public:
  ZeroingHook(Projection which, int64_t layer_idx) : which_(which), layer_idx_(layer_idx) {}
  torch::Tensor apply(Projection which, int64_t layer_idx, const torch::Tensor& y) const override {
    return which == which_ && layer_idx == layer_idx_ ? torch::zeros_like(y) : y;
  }

 private:
  Projection which_;
  int64_t layer_idx_;
};

TEST(ModelTest, IdentityHookChangesNothingAndSeesEveryProjection) {
  const Model& model = tiny_model();
  const PromptBatch batch = model.tokenize({model.format_chat("", "Hello there"), model.format_chat("", "Hi")});
  const PrefillOutput base = model.prefill(batch, nullptr, true);
  RecordingHook hook;
  const PrefillOutput hooked = model.prefill(batch, &hook, true);
  EXPECT_TRUE(torch::equal(base.logits, hooked.logits));
  EXPECT_TRUE(torch::equal(base.hidden, hooked.hidden));
  ASSERT_EQ(hook.calls.size(), 8u);
  for (int64_t layer_idx = 0; layer_idx < 4; ++layer_idx) {
    EXPECT_EQ(hook.calls[static_cast<size_t>(2 * layer_idx)], std::make_pair(Projection::attn_o_proj, layer_idx));
    EXPECT_EQ(hook.calls[static_cast<size_t>(2 * layer_idx + 1)], std::make_pair(Projection::mlp_down_proj, layer_idx));
  }
  EXPECT_EQ(hook.shapes[0], (std::vector<int64_t>{2, batch.input_ids.size(1), 64}));
}

TEST(ModelTest, ZeroingHookChangesTheOutput) {
  const Model& model = tiny_model();
  const PromptBatch batch = model.tokenize({model.format_chat("", "Hello there")});
  const PrefillOutput base = model.prefill(batch, nullptr, true);
  for (Projection which : {Projection::attn_o_proj, Projection::mlp_down_proj}) {
    const ZeroingHook hook(which, 1);
    const PrefillOutput hooked = model.prefill(batch, &hook, true);
    EXPECT_GT((hooked.logits - base.logits).abs().max().item<float>(), 1e-3f) << to_string(which);
    // Layers before the hooked one are untouched: entries 0 and 1 are the inputs of layers 0 and 1.
    EXPECT_TRUE(torch::equal(hooked.hidden.narrow(1, 0, 2), base.hidden.narrow(1, 0, 2)));
  }
}

TEST(ModelTest, CachedGenerationEqualsFullRecomputation) {
  const Model& model = tiny_model();
  const std::vector<std::string> prompts = {model.format_chat("", "Write a short story."),
                                            model.format_chat("Be helpful.", "How does a computer work?")};
  constexpr int64_t kMaxNew = 20;  // prompt + new tokens run well past the sliding window of 8
  const auto generated = model.generate(model.tokenize(prompts), kMaxNew, nullptr);
  ASSERT_EQ(generated.size(), 2u);
  const std::vector<int64_t>& stop_ids = model.config().eos_token_ids;
  for (size_t row = 0; row < prompts.size(); ++row) {
    std::vector<int64_t> ids = model.tokenizer().encode(prompts[row]);
    std::vector<int64_t> expected;
    for (int64_t step = 0; step < kMaxNew; ++step) {
      const int64_t next = model.prefill(single_row(ids), nullptr, false).logits[0].argmax().item<int64_t>();
      if (std::find(stop_ids.begin(), stop_ids.end(), next) != stop_ids.end()) break;
      expected.push_back(next);
      ids.push_back(next);
    }
    EXPECT_EQ(generated[row], expected) << "row " << row;
  }
  EXPECT_FALSE(generated[0].empty());
}

TEST(ModelTest, CachedGenerationWithHookEqualsRecomputationWithHook) {
  const Model& model = tiny_model();
  const ZeroingHook hook(Projection::mlp_down_proj, 2);
  const std::string prompt = model.format_chat("", "Give me three ideas for a party.");
  const auto generated = model.generate(model.tokenize({prompt}), 12, &hook);
  std::vector<int64_t> ids = model.tokenizer().encode(prompt);
  std::vector<int64_t> expected;
  for (int64_t step = 0; step < 12; ++step) {
    const int64_t next = model.prefill(single_row(ids), &hook, false).logits[0].argmax().item<int64_t>();
    if (next == kTinyEosId || next == kTinyEndOfTurnId) break;
    expected.push_back(next);
    ids.push_back(next);
  }
  EXPECT_EQ(generated[0], expected);
}

TEST(ModelTest, RowStopFunctionStopsOneRowEarly) {
  const Model& model = tiny_model();
  const PromptBatch batch =
      model.tokenize({model.format_chat("", "Write a short story."), model.format_chat("", "Write a short story.")});
  const auto full = model.generate(batch, 10, nullptr);
  std::vector<int64_t> calls_per_row(2, 0);
  const auto stopped = model.generate(batch, 10, nullptr, [&](int64_t row, const std::vector<int64_t>& ids) {
    ++calls_per_row[static_cast<size_t>(row)];
    return row == 0 && ids.size() == 3;
  });
  ASSERT_GE(full[0].size(), 3u);
  EXPECT_EQ(stopped[0], std::vector<int64_t>(full[0].begin(), full[0].begin() + 3));
  EXPECT_EQ(stopped[1], full[1]);
  EXPECT_EQ(calls_per_row[0], 3);
  EXPECT_EQ(model.generate(batch, 0, nullptr), (std::vector<std::vector<int64_t>>(2)));
}

TEST(ModelTest, ProjectionWeightsAreFloat32Copies) {
  const Model& model = tiny_model();
  const formats::SafetensorsReader file =
      formats::SafetensorsReader::open(testing::tiny_model_folder() / "model.safetensors");
  const torch::Tensor o_proj = model.projection_weight(Projection::attn_o_proj, 3);
  const torch::Tensor down_proj = model.projection_weight(Projection::mlp_down_proj, 0);
  EXPECT_EQ(o_proj.sizes(), (std::vector<int64_t>{64, 64}));
  EXPECT_EQ(down_proj.sizes(), (std::vector<int64_t>{64, 128}));
  EXPECT_TRUE(torch::equal(o_proj, file.read("model.layers.3.self_attn.o_proj.weight")));
  EXPECT_TRUE(torch::equal(down_proj, file.read("model.layers.0.mlp.down_proj.weight")));
  ASSERT_THROWS_WITH(model.projection_weight(Projection::attn_o_proj, 4), InputError, "layer index 4");
}

TEST(ModelTest, Bfloat16LoadRunsAndStaysClose) {
  LoadOptions options;
  options.dtype = torch::kBFloat16;
  const auto model = Model::load(testing::tiny_model_folder(), options);
  const PromptBatch batch = model->tokenize({model->format_chat("", "Hello there")});
  const PrefillOutput bf16 = model->prefill(batch, nullptr, true);
  const PrefillOutput fp32 = tiny_model().prefill(batch, nullptr, true);
  EXPECT_EQ(bf16.logits.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::allclose(bf16.logits, fp32.logits, 0.05, 0.05))
      << (bf16.logits - fp32.logits).abs().max().item<float>();
}

// --- Load errors ---

// A copy of the tiny folder whose safetensors holds `tensors` instead.
std::filesystem::path folder_with_weights(const TempDir& dir, const std::vector<formats::NamedTensor>& tensors) {
  const auto folder = dir.path() / "model";
  std::filesystem::copy(testing::tiny_model_folder(), folder);
  std::filesystem::remove(folder / "model.safetensors");
  formats::write_safetensors(folder / "model.safetensors", tensors);
  return folder;
}

std::vector<formats::NamedTensor> tiny_tensors() {
  const formats::SafetensorsReader file =
      formats::SafetensorsReader::open(testing::tiny_model_folder() / "model.safetensors");
  std::vector<formats::NamedTensor> tensors;
  for (const auto& info : file.tensors()) tensors.push_back({info.name, file.read(info.name)});
  return tensors;
}

TEST(ModelLoadTest, MissingGgufFileIsIoError) {
  ASSERT_THROWS_WITH(Model::load("/models/gemma-3-270m.gguf", LoadOptions{}), IoError, "/models/gemma-3-270m.gguf");
}

TEST(ModelLoadTest, MissingFolderIsIoError) {
  ASSERT_THROWS_WITH(Model::load("/no/such/model", LoadOptions{}), IoError, "/no/such/model");
}

TEST(ModelLoadTest, MissingWeightsFileIsIoErrorNamingIt) {
  TempDir dir("load_no_weights");
  const auto folder = dir.path() / "model";
  std::filesystem::copy(testing::tiny_model_folder(), folder);
  std::filesystem::remove(folder / "model.safetensors");
  ASSERT_THROWS_WITH(Model::load(folder, LoadOptions{}), IoError, (folder / "model.safetensors").string());
}

TEST(ModelLoadTest, MissingTensorIsNamed) {
  TempDir dir("load_missing_tensor");
  std::vector<formats::NamedTensor> tensors = tiny_tensors();
  std::erase_if(tensors, [](const formats::NamedTensor& t) { return t.name == "model.layers.2.mlp.up_proj.weight"; });
  const auto folder = folder_with_weights(dir, tensors);
  ASSERT_THROWS_WITH(Model::load(folder, LoadOptions{}), FormatError,
                     "tensor 'model.layers.2.mlp.up_proj.weight' is missing (expected shape [128, 64])");
}

TEST(ModelLoadTest, WrongShapeSaysExpectedAndGot) {
  TempDir dir("load_wrong_shape");
  std::vector<formats::NamedTensor> tensors = tiny_tensors();
  for (auto& t : tensors) {
    if (t.name == "model.layers.1.self_attn.o_proj.weight") t.tensor = t.tensor.t().contiguous().narrow(0, 0, 32);
  }
  const auto folder = folder_with_weights(dir, tensors);
  ASSERT_THROWS_WITH(Model::load(folder, LoadOptions{}), FormatError,
                     "tensor 'model.layers.1.self_attn.o_proj.weight': expected shape [64, 64], got [32, 64]");
}

TEST(ModelLoadTest, UnusedTensorIsRejected) {
  TempDir dir("load_extra_tensor");
  std::vector<formats::NamedTensor> tensors = tiny_tensors();
  tensors.push_back({"model.layers.4.mlp.up_proj.weight", torch::zeros({128, 64})});
  const auto folder = folder_with_weights(dir, tensors);
  ASSERT_THROWS_WITH(Model::load(folder, LoadOptions{}), FormatError,
                     "tensor 'model.layers.4.mlp.up_proj.weight' is not part of a gemma3 text decoder with 4 layers");
}

}  // namespace
}  // namespace abliterate::model
