// The decoder on the tiny model of every family (Gemma 3, Llama 3, Mistral,
// Qwen2, Qwen3): the forward pass against an independent float64 reference of
// spec/model-runtime.md §1.1-§1.2 and §3 written here from config.json and the
// safetensors file, left padding, the hook on every projection, KV-cache
// generation against recomputation past the sliding window (a sliding layer's
// cache holds only its window), and weight-loading errors.
#include <algorithm>
#include <cmath>
#include <map>
#include <numbers>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "abliterate/common/error.hpp"
#include "abliterate/formats/json_file.hpp"
#include "abliterate/formats/safetensors_reader.hpp"
#include "abliterate/formats/safetensors_writer.hpp"
#include "abliterate/model/continuous_generation.hpp"
#include "abliterate/model/decoder.hpp"
#include "abliterate/model/generation.hpp"
#include "abliterate/model/hf_checkpoint.hpp"
#include "abliterate/model/model.hpp"
#include "abliterate/model/tiny_model.hpp"
#include "model/model_test_support.hpp"
#include "support/throws_with.hpp"

namespace abliterate::model {
namespace {

using nlohmann::json;
using testing::TempDir;

constexpr double kFp32Tolerance = 1e-5;

// One tiny model folder per family, written once per test process.
const std::filesystem::path& family_folder(Architecture family) {
  static const TempDir dir("families");
  static std::map<Architecture, std::filesystem::path> folders;
  auto it = folders.find(family);
  if (it == folders.end()) {
    const auto folder = dir.path() / to_string(family);
    write_tiny_model(folder, TinyModelOptions::for_family(family));
    it = folders.emplace(family, folder).first;
  }
  return it->second;
}

const Model& family_model(Architecture family) {
  static std::map<Architecture, std::unique_ptr<Model>> models;
  auto& model = models[family];
  if (!model) model = Model::load(family_folder(family), LoadOptions{});
  return *model;
}

// --- The reference: one sequence, float64, every formula spelled out ---

// What each family does, restated from spec §3's table (not read from ModelConfig).
struct FamilyRules {
  bool is_gemma;   // (1+w) norms, post norms, embedding scale, gelu_tanh, query_pre_attn_scalar, local RoPE base
  bool has_qk_norm;
  bool has_qkv_bias;
};

FamilyRules rules_of(Architecture family) {
  switch (family) {
    case Architecture::gemma3: return {true, true, false};
    case Architecture::qwen2: return {false, false, true};
    case Architecture::qwen3: return {false, true, false};
    case Architecture::llama:
    case Architecture::mistral: return {false, false, false};
  }
  return {};
}

struct Reference {
  torch::Tensor logits;  // float64 [V]
  torch::Tensor hidden;  // float64 [L+1, d] at the last position
};

class ReferenceDecoder {
 public:
  explicit ReferenceDecoder(Architecture family)
      : family_(family),
        rules_(rules_of(family)),
        cfg_(formats::read_json_file(family_folder(family) / "config.json")),
        file_(formats::SafetensorsReader::open(family_folder(family) / "model.safetensors")) {}

  Reference forward(const std::vector<int64_t>& ids) const {
    const auto d = cfg_.at("hidden_size").get<int64_t>();
    const auto n_layers = cfg_.at("num_hidden_layers").get<int64_t>();
    const auto n_heads = cfg_.at("num_attention_heads").get<int64_t>();
    const auto n_kv = cfg_.at("num_key_value_heads").get<int64_t>();
    const int64_t head_dim = cfg_.contains("head_dim") ? cfg_.at("head_dim").get<int64_t>() : d / n_heads;
    const auto eps = cfg_.at("rms_norm_eps").get<double>();
    const auto n_positions = static_cast<int64_t>(ids.size());
    const torch::Tensor embed = w("model.embed_tokens.weight");

    std::vector<torch::Tensor> h;  // [d] per position
    for (int64_t id : ids) h.push_back(rules_.is_gemma ? embed[id] * std::sqrt(static_cast<double>(d)) : embed[id].clone());
    std::vector<torch::Tensor> hidden{h.back()};
    for (int64_t l = 0; l < n_layers; ++l) {
      const std::string p = "model.layers." + std::to_string(l) + ".";
      const int64_t window = window_of_layer(l);
      const torch::Tensor inv_freq = inv_freq_of_layer(window > 0, head_dim);
      std::vector<torch::Tensor> q(static_cast<size_t>(n_positions)), k(q.size()), v(q.size());
      for (int64_t t = 0; t < n_positions; ++t) {
        const torch::Tensor a = norm(h[t], w(p + "input_layernorm.weight"), eps);
        torch::Tensor qt = torch::mv(w(p + "self_attn.q_proj.weight"), a);
        torch::Tensor kt = torch::mv(w(p + "self_attn.k_proj.weight"), a);
        torch::Tensor vt = torch::mv(w(p + "self_attn.v_proj.weight"), a);
        if (rules_.has_qkv_bias) {
          qt = qt + w(p + "self_attn.q_proj.bias");
          kt = kt + w(p + "self_attn.k_proj.bias");
          vt = vt + w(p + "self_attn.v_proj.bias");
        }
        qt = qt.view({n_heads, head_dim});
        kt = kt.view({n_kv, head_dim});
        if (rules_.has_qk_norm) {
          qt = norm(qt, w(p + "self_attn.q_norm.weight"), eps);
          kt = norm(kt, w(p + "self_attn.k_norm.weight"), eps);
        }
        q[t] = rope(qt, t, inv_freq);
        k[t] = rope(kt, t, inv_freq);
        v[t] = vt.view({n_kv, head_dim});
      }
      const double scale = 1.0 / std::sqrt(rules_.is_gemma ? cfg_.at("query_pre_attn_scalar").get<double>()
                                                           : static_cast<double>(head_dim));
      for (int64_t t = 0; t < n_positions; ++t) {
        // Keys this query sees: s <= t, and t - s < window on sliding layers.
        const int64_t first = window > 0 ? std::max<int64_t>(0, t - window + 1) : 0;
        const torch::Tensor keys = torch::stack(std::vector<torch::Tensor>(k.begin() + first, k.begin() + t + 1));    // [S,Hkv,D]
        const torch::Tensor values = torch::stack(std::vector<torch::Tensor>(v.begin() + first, v.begin() + t + 1));  // [S,Hkv,D]
        std::vector<torch::Tensor> heads;
        for (int64_t hd = 0; hd < n_heads; ++hd) {
          const int64_t kv = hd / (n_heads / n_kv);
          const torch::Tensor scores = torch::mv(keys.select(1, kv), q[t][hd]) * scale;  // [S]
          const torch::Tensor probs = torch::exp(scores - scores.max()) / torch::exp(scores - scores.max()).sum();
          heads.push_back(torch::mv(values.select(1, kv).t(), probs));  // [D]
        }
        const torch::Tensor y = torch::mv(w(p + "self_attn.o_proj.weight"), torch::cat(heads));
        h[t] = h[t] + (rules_.is_gemma ? norm(y, w(p + "post_attention_layernorm.weight"), eps) : y);
        // Gemma's pre-MLP norm is pre_feedforward_layernorm; Llama-style calls it post_attention_layernorm.
        const torch::Tensor m = norm(h[t], w(p + (rules_.is_gemma ? "pre_feedforward_layernorm.weight"
                                                                  : "post_attention_layernorm.weight")), eps);
        const torch::Tensor g = torch::mv(w(p + "mlp.gate_proj.weight"), m);
        const torch::Tensor act =
            rules_.is_gemma ? 0.5 * g * (1 + torch::tanh(std::sqrt(2.0 / std::numbers::pi) * (g + 0.044715 * g.pow(3))))
                            : g / (1 + torch::exp(-g));
        const torch::Tensor down = torch::mv(w(p + "mlp.down_proj.weight"), act * torch::mv(w(p + "mlp.up_proj.weight"), m));
        h[t] = h[t] + (rules_.is_gemma ? norm(down, w(p + "post_feedforward_layernorm.weight"), eps) : down);
      }
      if (l + 1 < n_layers) hidden.push_back(h.back());
    }
    const torch::Tensor final_state = norm(h.back(), w("model.norm.weight"), eps);
    hidden.push_back(final_state);
    const bool is_tied = cfg_.at("tie_word_embeddings").get<bool>();
    return Reference{torch::mv(is_tied ? embed : w("lm_head.weight"), final_state), torch::stack(hidden)};
  }

 private:
  torch::Tensor w(const std::string& name) const { return file_.read(name).to(torch::kFloat64); }

  torch::Tensor norm(const torch::Tensor& x, const torch::Tensor& gain, double eps) const {
    const torch::Tensor normalized = x / torch::sqrt(x.pow(2).mean(-1, true) + eps);
    return normalized * (rules_.is_gemma ? 1 + gain : gain);
  }

  // 0 for full attention; the window on Gemma's sliding layers and every Mistral layer.
  int64_t window_of_layer(int64_t layer_idx) const {
    if (family_ == Architecture::mistral) return cfg_.at("sliding_window").get<int64_t>();
    if (!rules_.is_gemma) return 0;
    const auto kind = cfg_.at("layer_types").at(static_cast<size_t>(layer_idx)).get<std::string>();
    return kind == "sliding_attention" ? cfg_.at("sliding_window").get<int64_t>() : 0;
  }

  // base^(-2i/D); Gemma's sliding layers use the local base; llama3 scaling by
  // the wavelength rule of spec §3, in float64.
  torch::Tensor inv_freq_of_layer(bool is_sliding, int64_t head_dim) const {
    const double base = rules_.is_gemma && is_sliding ? cfg_.at("rope_local_base_freq").get<double>()
                                                      : cfg_.at("rope_theta").get<double>();
    torch::Tensor inv_freq = torch::empty({head_dim / 2}, torch::kFloat64);
    for (int64_t i = 0; i < head_dim / 2; ++i) {
      double f = std::pow(base, -2.0 * static_cast<double>(i) / static_cast<double>(head_dim));
      const json& scaling = cfg_.contains("rope_scaling") ? cfg_.at("rope_scaling") : json();
      if (scaling.is_object() && scaling.at("rope_type") == "llama3") {
        const auto factor = scaling.at("factor").get<double>();
        const auto lo = scaling.at("low_freq_factor").get<double>();
        const auto hi = scaling.at("high_freq_factor").get<double>();
        const auto n = scaling.at("original_max_position_embeddings").get<double>();
        const double wavelength = 2 * std::numbers::pi / f;
        if (wavelength > n / lo) {
          f = f / factor;
        } else if (wavelength >= n / hi) {
          const double s = (n / wavelength - lo) / (hi - lo);
          f = (1 - s) * f / factor + s * f;
        }
      }
      inv_freq[i] = f;
    }
    return inv_freq;
  }

  // NeoX rotate_half RoPE of x [H, D] at position p.
  static torch::Tensor rope(const torch::Tensor& x, int64_t p, const torch::Tensor& inv_freq) {
    const int64_t half = x.size(-1) / 2;
    const torch::Tensor angle = inv_freq * static_cast<double>(p);  // [D/2]
    const torch::Tensor x1 = x.narrow(-1, 0, half);
    const torch::Tensor x2 = x.narrow(-1, half, half);
    return torch::cat({x1 * angle.cos() - x2 * angle.sin(), x2 * angle.cos() + x1 * angle.sin()}, -1);
  }

  Architecture family_;
  FamilyRules rules_;
  json cfg_;
  formats::SafetensorsReader file_;
};

PromptBatch single_row(const std::vector<int64_t>& ids) {
  const auto n = static_cast<int64_t>(ids.size());
  return PromptBatch{torch::tensor(ids, torch::kInt64).view({1, n}), torch::ones({1, n}, torch::kInt64)};
}

std::string family_name(const ::testing::TestParamInfo<Architecture>& info) { return to_string(info.param); }

class DecoderFamilyTest : public ::testing::TestWithParam<Architecture> {};

INSTANTIATE_TEST_SUITE_P(AllFamilies, DecoderFamilyTest,
                         ::testing::Values(Architecture::gemma3, Architecture::llama, Architecture::mistral,
                                           Architecture::qwen2, Architecture::qwen3),
                         family_name);

TEST_P(DecoderFamilyTest, ConfigSwitchesFollowTheFamily) {
  const ModelConfig& c = family_model(GetParam()).config();
  const FamilyRules rules = rules_of(GetParam());
  EXPECT_EQ(c.architecture, GetParam());
  EXPECT_EQ(c.norm_gain == NormGain::one_plus_weight, rules.is_gemma);
  EXPECT_EQ(c.has_post_norms, rules.is_gemma);
  EXPECT_EQ(c.scales_embeddings, rules.is_gemma);
  EXPECT_EQ(c.mlp_activation == MlpActivation::gelu_tanh, rules.is_gemma);
  EXPECT_EQ(c.has_qk_norm, rules.has_qk_norm);
  EXPECT_EQ(c.has_qkv_bias, rules.has_qkv_bias);
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.vocab_size, family_model(GetParam()).tokenizer().vocab_size());
}

TEST_P(DecoderFamilyTest, PrefillMatchesFloat64ReferenceBeyondTheWindow) {
  const Model& model = family_model(GetParam());
  const std::vector<int64_t> ids =
      model.tokenizer().encode(model.format_chat("Be helpful.", "Write a poem about the moon and the stars, please."),
                               tokenizer::SpecialTokens::parse);
  ASSERT_GT(static_cast<int64_t>(ids.size()), 2 * 8);  // twice the tiny sliding window
  const PrefillOutput out = model.prefill(single_row(ids), nullptr, /*capture_hidden=*/true);
  const Reference ref = ReferenceDecoder(GetParam()).forward(ids);
  const torch::Tensor logits = out.logits[0].to(torch::kFloat64);
  const torch::Tensor hidden = out.hidden[0].to(torch::kFloat64);
  ASSERT_EQ(hidden.sizes(), ref.hidden.sizes());
  EXPECT_TRUE(torch::allclose(logits, ref.logits, 1e-4, 1e-4)) << (logits - ref.logits).abs().max().item<double>();
  EXPECT_TRUE(torch::allclose(hidden, ref.hidden, 1e-4, 1e-4)) << (hidden - ref.hidden).abs().max().item<double>();
  // The reference is sharp enough to notice a wrong switch: logits are not flat.
  EXPECT_GT((ref.logits.max() - ref.logits.min()).item<double>(), 0.1);
}

TEST_P(DecoderFamilyTest, LeftPaddedBatchEqualsEachPromptAlone) {
  const Model& model = family_model(GetParam());
  const std::vector<std::string> prompts = {model.format_chat("", "Hi"),
                                            model.format_chat("Be helpful.", "Explain how the weather changes in summer."),
                                            model.format_chat("", "Tell me about the history of the city.")};
  const PrefillOutput batched = model.prefill(model.tokenize(prompts), nullptr, true);
  for (size_t row = 0; row < prompts.size(); ++row) {
    const PrefillOutput alone = model.prefill(model.tokenize({prompts[row]}), nullptr, true);
    const auto r = static_cast<int64_t>(row);
    EXPECT_TRUE(torch::allclose(batched.logits[r], alone.logits[0], kFp32Tolerance, kFp32Tolerance)) << "row " << row;
    EXPECT_TRUE(torch::allclose(batched.hidden[r], alone.hidden[0], kFp32Tolerance, kFp32Tolerance)) << "row " << row;
  }
}

// Records every projection the hook sees and returns y unchanged.
class RecordingHook : public ProjectionHook {
 public:
  torch::Tensor apply(Projection which, int64_t layer_idx, const torch::Tensor& y) const override {
    calls.emplace_back(which, layer_idx);
    return y;
  }
  mutable std::vector<std::pair<Projection, int64_t>> calls;
};

TEST_P(DecoderFamilyTest, HookSeesOProjAndDownProjOfEveryLayer) {
  const Model& model = family_model(GetParam());
  const PromptBatch batch = model.tokenize({model.format_chat("", "Hello there")});
  RecordingHook hook;
  const PrefillOutput hooked = model.prefill(batch, &hook, true);
  const int64_t n_layers = model.config().n_layers;
  ASSERT_EQ(hook.calls.size(), static_cast<size_t>(2 * n_layers));
  for (int64_t layer_idx = 0; layer_idx < n_layers; ++layer_idx) {
    EXPECT_EQ(hook.calls[static_cast<size_t>(2 * layer_idx)], std::make_pair(Projection::attn_o_proj, layer_idx));
    EXPECT_EQ(hook.calls[static_cast<size_t>(2 * layer_idx + 1)], std::make_pair(Projection::mlp_down_proj, layer_idx));
  }
  EXPECT_TRUE(torch::equal(hooked.logits, model.prefill(batch, nullptr, false).logits));
}

// The decoder of a family's tiny model, built as Model::load builds it.
Decoder load_decoder(Architecture family) {
  ModelConfig config = ModelConfig::from_hf_folder(family_folder(family));
  HfCheckpoint checkpoint = HfCheckpoint::open(family_folder(family));
  DecoderWeights weights = load_decoder_weights(checkpoint, config, torch::TensorOptions().dtype(torch::kFloat32));
  return Decoder(std::move(config), std::move(weights));
}

TEST_P(DecoderFamilyTest, CachedGenerationEqualsRecomputationPastTheWindow) {
  c10::InferenceMode guard;
  const Model& model = family_model(GetParam());
  const Decoder decoder = load_decoder(GetParam());
  const std::vector<std::string> prompts = {model.format_chat("", "Write a short story."),
                                            model.format_chat("Be helpful.", "How does a computer work?")};
  GreedyOptions options;
  options.max_new_tokens = 20;  // no stop tokens: every row runs 20 steps, well past the window of 8
  options.pad_token_id = 0;
  const auto generated = greedy_generate(decoder, model.tokenize(prompts), options, nullptr, nullptr);
  ASSERT_EQ(generated.size(), 2u);
  for (size_t row = 0; row < prompts.size(); ++row) {
    std::vector<int64_t> ids = model.tokenizer().encode(prompts[row], tokenizer::SpecialTokens::parse);
    std::vector<int64_t> expected;
    for (int64_t step = 0; step < options.max_new_tokens; ++step) {
      const PromptBatch one = single_row(ids);
      const DecoderOutput out =
          decoder.forward({one.input_ids, positions_from_mask(one.attention_mask), one.attention_mask.to(torch::kBool)},
                          nullptr, nullptr, HiddenCapture::none);
      expected.push_back(out.logits[0].argmax().item<int64_t>());
      ids.push_back(expected.back());
    }
    EXPECT_EQ(generated[row], expected) << "row " << row;
  }
  // Greedy decoding of a random model: the rows must not be trivially constant.
  EXPECT_GT(std::set<int64_t>(generated[0].begin(), generated[0].end()).size(), 1u);
}

// Scales every hooked output of slot s by 1 + s/4, so that rows of different
// slots generate differently; per row when the slots of a batch differ.
class SlotScaleHooks final : public RowHooks {
 public:
  class Scale final : public ProjectionHook {
   public:
    torch::Tensor apply(Projection, int64_t, const torch::Tensor& y) const override { return y * factors; }
    torch::Tensor factors;  // [B, 1, 1] or a scalar
  };
  static double factor(int64_t slot) { return 1.0 + 0.25 * static_cast<double>(slot); }
  const ProjectionHook* for_rows(const std::vector<int64_t>& row_slots) override {
    std::vector<float> factors;
    for (const int64_t slot : row_slots) factors.push_back(static_cast<float>(factor(slot)));
    hook_.factors = torch::tensor(factors).view({-1, 1, 1});
    return &hook_;
  }

 private:
  Scale hook_;
};

// Continuous batching (a batch of 3 rows refilled from a queue of 8 prompts of
// two slots, rows stopping at different steps, the prompts' common prefix run
// once per slot) gives every prompt the tokens it gets alone in a batch of its
// own, and prefill_queued its logits.
TEST_P(DecoderFamilyTest, RefilledBatchEqualsEachPromptAlone) {
  c10::InferenceMode guard;
  const Model& model = family_model(GetParam());
  const Decoder decoder = load_decoder(GetParam());
  const std::vector<std::string> users = {"Hi", "Write a short story about the sea.", "How does a computer work?",
                                          "Name three colours.", "Why?", "Tell me a joke about cats and dogs.",
                                          "Explain rain.", "Count to five, slowly and clearly."};
  GreedyOptions options;
  options.max_new_tokens = 6;
  options.pad_token_id = 0;
  // Stops prompt p after 2 + p % 4 tokens, or at max_new_tokens.
  const auto stops_after = [](size_t prompt_idx) { return 2 + prompt_idx % 4; };
  std::vector<QueuedPrompt> queue;
  int64_t longest = 0;
  for (size_t prompt_idx = 0; prompt_idx < users.size(); ++prompt_idx) {
    queue.push_back({model.encode(model.format_chat("", users[prompt_idx])), static_cast<int64_t>(prompt_idx % 2)});
    longest = std::max(longest, static_cast<int64_t>(queue.back().ids.size()));
  }
  if (!fits_continuous_batching(decoder.config(), longest, options.max_new_tokens)) {
    // Gemma 3's and Mistral's tiny models slide an 8-token window: they keep fixed batches.
    EXPECT_GT(decoder.config().sliding_window, 0);
    EXPECT_FALSE(model.can_generate_queued(longest, options.max_new_tokens));
    return;
  }
  SlotScaleHooks hooks;
  const auto generated = generate_continuously(
      decoder, queue, /*max_rows=*/3, options, hooks,
      [&](int64_t prompt_idx, const std::vector<int64_t>& ids) {
        return ids.size() >= stops_after(static_cast<size_t>(prompt_idx));
      });
  ASSERT_EQ(generated.size(), queue.size());
  std::set<std::vector<int64_t>> distinct;
  for (size_t prompt_idx = 0; prompt_idx < queue.size(); ++prompt_idx) {
    SlotScaleHooks::Scale alone;
    alone.factors = torch::scalar_tensor(SlotScaleHooks::factor(queue[prompt_idx].hook_slot));
    const auto expected = greedy_generate(decoder, single_row(queue[prompt_idx].ids), options, &alone,
                                          [&](int64_t, const std::vector<int64_t>& ids) {
                                            return ids.size() >= stops_after(prompt_idx);
                                          });
    EXPECT_EQ(generated[prompt_idx], expected.at(0)) << "prompt " << prompt_idx;
    EXPECT_EQ(generated[prompt_idx].size(), std::min<size_t>(stops_after(prompt_idx), 6)) << "prompt " << prompt_idx;
    distinct.insert(generated[prompt_idx]);
  }
  EXPECT_GT(distinct.size(), 4u);  // the prompts and slots really generate differently

  // prefill_queued: the logits after each prompt, with the shared prefix run
  // once per slot, equal each prompt's own prefill to float rounding.
  size_t n_shared = queue.front().ids.size();
  for (const QueuedPrompt& prompt : queue) {
    n_shared = std::min<size_t>(
        n_shared, std::mismatch(queue.front().ids.begin(), queue.front().ids.end(), prompt.ids.begin(), prompt.ids.end())
                          .first -
                      queue.front().ids.begin());
  }
  ASSERT_GE(n_shared, 4u) << "the prompts share too short a prefix for it to be run apart";
  const torch::Tensor queued = prefill_queued(decoder, queue, /*max_rows=*/3, hooks);  // [8, V]
  ASSERT_EQ(queued.size(0), static_cast<int64_t>(queue.size()));
  for (size_t prompt_idx = 0; prompt_idx < queue.size(); ++prompt_idx) {
    SlotScaleHooks::Scale alone;
    alone.factors = torch::scalar_tensor(SlotScaleHooks::factor(queue[prompt_idx].hook_slot));
    const PromptBatch one = single_row(queue[prompt_idx].ids);
    const torch::Tensor expected =
        decoder
            .forward({one.input_ids, positions_from_mask(one.attention_mask), one.attention_mask.to(torch::kBool)},
                     nullptr, &alone, HiddenCapture::none)
            .logits[0];
    EXPECT_TRUE(torch::allclose(queued[static_cast<int64_t>(prompt_idx)], expected, 1e-4, 1e-5))
        << "prompt " << prompt_idx << ": largest difference "
        << (queued[static_cast<int64_t>(prompt_idx)] - expected).abs().max().item<float>();
  }
}

TEST_P(DecoderFamilyTest, SlidingLayersHoldOnlyTheirWindow) {
  c10::InferenceMode guard;
  const Model& model = family_model(GetParam());
  const Decoder decoder = load_decoder(GetParam());
  const ModelConfig& c = decoder.config();
  const PromptBatch batch = model.tokenize({model.format_chat("Be helpful.", "Write a short story about the sea.")});
  const int64_t n_prompt = batch.input_ids.size(1);
  ASSERT_GT(n_prompt, 8);
  KvCache cache(c.n_layers);
  const torch::Tensor key_mask = batch.attention_mask.to(torch::kBool);
  decoder.forward({batch.input_ids, positions_from_mask(batch.attention_mask), key_mask}, &cache, nullptr,
                  HiddenCapture::none);
  EXPECT_EQ(cache.length(), n_prompt);
  for (int64_t layer_idx = 0; layer_idx < c.n_layers; ++layer_idx) {
    const bool is_sliding = c.is_sliding(layer_idx);
    EXPECT_EQ(cache.held(layer_idx), is_sliding ? c.sliding_window - 1 : n_prompt) << "layer " << layer_idx;
  }
  const bool has_sliding = std::any_of(c.layer_types.begin(), c.layer_types.end(),
                                       [](AttentionKind kind) { return kind == AttentionKind::sliding; });
  const bool expects_sliding = GetParam() == Architecture::gemma3 || GetParam() == Architecture::mistral;
  EXPECT_EQ(has_sliding, expects_sliding);
}

// --- Load errors ---

std::vector<formats::NamedTensor> family_tensors(Architecture family) {
  const formats::SafetensorsReader file = formats::SafetensorsReader::open(family_folder(family) / "model.safetensors");
  std::vector<formats::NamedTensor> tensors;
  for (const auto& info : file.tensors()) tensors.push_back({info.name, file.read(info.name)});
  return tensors;
}

std::filesystem::path family_folder_with_weights(const TempDir& dir, Architecture family,
                                                 const std::vector<formats::NamedTensor>& tensors) {
  const auto folder = dir.path() / "model";
  std::filesystem::copy(family_folder(family), folder);
  std::filesystem::remove(folder / "model.safetensors");
  formats::write_safetensors(folder / "model.safetensors", tensors);
  return folder;
}

TEST(DecoderFamilyLoadTest, UntiedModelWithoutLmHeadIsRejected) {
  TempDir dir("family_no_head");
  std::vector<formats::NamedTensor> tensors = family_tensors(Architecture::llama);
  const auto erased = std::erase_if(tensors, [](const formats::NamedTensor& t) { return t.name == "lm_head.weight"; });
  ASSERT_EQ(erased, 1u);
  const auto folder = family_folder_with_weights(dir, Architecture::llama, tensors);
  ASSERT_THROWS_WITH(Model::load(folder, LoadOptions{}), FormatError,
                     (folder / "model.safetensors").string() + ": tensor 'lm_head.weight' is missing");
}

TEST(DecoderFamilyLoadTest, MissingQwen2BiasIsNamed) {
  TempDir dir("family_no_bias");
  std::vector<formats::NamedTensor> tensors = family_tensors(Architecture::qwen2);
  std::erase_if(tensors,
                [](const formats::NamedTensor& t) { return t.name == "model.layers.1.self_attn.k_proj.bias"; });
  const auto folder = family_folder_with_weights(dir, Architecture::qwen2, tensors);
  ASSERT_THROWS_WITH(Model::load(folder, LoadOptions{}), FormatError,
                     "tensor 'model.layers.1.self_attn.k_proj.bias' is missing (expected shape [32])");
}

TEST(DecoderFamilyLoadTest, TensorOfAnotherFamilyIsRejectedNamingFileAndTensor) {
  TempDir dir("family_leftover");
  std::vector<formats::NamedTensor> tensors = family_tensors(Architecture::llama);
  tensors.push_back({"model.layers.0.self_attn.q_norm.weight", torch::ones({16})});  // Qwen3's, not Llama's
  const auto folder = family_folder_with_weights(dir, Architecture::llama, tensors);
  ASSERT_THROWS_WITH(Model::load(folder, LoadOptions{}), FormatError,
                     (folder / "model.safetensors").string() +
                         ": tensor 'model.layers.0.self_attn.q_norm.weight' is not part of a llama text decoder with "
                         "3 layers");
}

TEST(DecoderFamilyLoadTest, Qwen3QProjWiderThanHiddenHasItsShapeChecked) {
  TempDir dir("family_qwen3_shape");
  std::vector<formats::NamedTensor> tensors = family_tensors(Architecture::qwen3);
  for (auto& t : tensors) {
    if (t.name == "model.layers.2.self_attn.q_proj.weight") t.tensor = t.tensor.narrow(0, 0, 64).contiguous();
  }
  const auto folder = family_folder_with_weights(dir, Architecture::qwen3, tensors);
  ASSERT_THROWS_WITH(Model::load(folder, LoadOptions{}), FormatError,
                     "tensor 'model.layers.2.self_attn.q_proj.weight': expected shape [128, 64], got [64, 64]");
}

}  // namespace
}  // namespace abliterate::model
