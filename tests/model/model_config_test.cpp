// ModelConfig::from_hf_json / from_hf_folder (spec/model-runtime.md §1.2-§1.3).
#include <cmath>
#include <numbers>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "abliterate/common/error.hpp"
#include "abliterate/model/decoder.hpp"
#include "abliterate/model/model_config.hpp"
#include "model/model_test_support.hpp"
#include "support/throws_with.hpp"

namespace abliterate::model {
namespace {

using nlohmann::json;
using testing::TempDir;

// google/gemma-3-270m's config.json as spec §1.3 records it (layer pattern given by the pattern key).
json gemma_270m_config() {
  return json{{"architectures", {"Gemma3ForCausalLM"}},
              {"model_type", "gemma3_text"},
              {"hidden_size", 640},
              {"intermediate_size", 2048},
              {"num_hidden_layers", 18},
              {"num_attention_heads", 4},
              {"num_key_value_heads", 1},
              {"head_dim", 256},
              {"query_pre_attn_scalar", 256},
              {"vocab_size", 262144},
              {"sliding_window", 512},
              {"_sliding_window_pattern", 6},
              {"rope_theta", 1000000.0},
              {"rope_local_base_freq", 10000.0},
              {"rope_scaling", nullptr},
              {"rms_norm_eps", 1e-6},
              {"hidden_activation", "gelu_pytorch_tanh"},
              {"attn_logit_softcapping", nullptr},
              {"final_logit_softcapping", nullptr},
              {"tie_word_embeddings", true},
              {"pad_token_id", 0},
              {"eos_token_id", 1},
              {"bos_token_id", 2}};
}

std::filesystem::path write_config(const TempDir& dir, const json& config, const char* name = "config.json") {
  const auto path = dir.path() / name;
  testing::write_bytes(path, config.dump(2));
  return path;
}

TEST(ModelConfigTest, ReadsGemma270mConfig) {
  TempDir dir("cfg_270m");
  const ModelConfig config = ModelConfig::from_hf_json(write_config(dir, gemma_270m_config()));
  EXPECT_EQ(config.architecture, Architecture::gemma3);
  EXPECT_EQ(config.hidden_size, 640);
  EXPECT_EQ(config.intermediate_size, 2048);
  EXPECT_EQ(config.n_layers, 18);
  EXPECT_EQ(config.n_heads, 4);
  EXPECT_EQ(config.n_kv_heads, 1);
  EXPECT_EQ(config.head_dim, 256);
  EXPECT_EQ(config.vocab_size, 262144);
  EXPECT_EQ(config.sliding_window, 512);
  EXPECT_DOUBLE_EQ(config.query_pre_attn_scalar, 256);
  EXPECT_DOUBLE_EQ(config.rope_theta, 1e6);
  EXPECT_DOUBLE_EQ(config.rope_local_theta, 1e4);
  EXPECT_DOUBLE_EQ(config.rope_scaling_factor, 1.0);
  EXPECT_DOUBLE_EQ(config.rms_norm_eps, 1e-6);
  EXPECT_EQ(config.attn_logit_softcapping, 0);
  EXPECT_EQ(config.final_logit_softcapping, 0);
  EXPECT_TRUE(config.tie_word_embeddings);
  EXPECT_EQ(config.pad_token_id, 0);
  EXPECT_EQ(config.bos_token_id, 2);
  EXPECT_EQ(config.eos_token_ids, std::vector<int64_t>{1});
  // Pattern 6: full attention at layers 5, 11, 17 (spec §1.3).
  ASSERT_EQ(config.layer_types.size(), 18u);
  for (int64_t layer_idx = 0; layer_idx < 18; ++layer_idx) {
    const bool is_full = layer_idx == 5 || layer_idx == 11 || layer_idx == 17;
    EXPECT_EQ(config.is_sliding(layer_idx), !is_full) << "layer " << layer_idx;
  }
}

TEST(ModelConfigTest, ExplicitLayerTypesWinAndEosMayBeAList) {
  TempDir dir("cfg_layer_types");
  json raw = gemma_270m_config();
  raw["num_hidden_layers"] = 3;
  raw["layer_types"] = {"full_attention", "sliding_attention", "full_attention"};
  raw["eos_token_id"] = {1, 106};
  const ModelConfig config = ModelConfig::from_hf_json(write_config(dir, raw));
  EXPECT_EQ(config.layer_types,
            (std::vector<AttentionKind>{AttentionKind::full, AttentionKind::sliding, AttentionKind::full}));
  EXPECT_EQ(config.eos_token_ids, (std::vector<int64_t>{1, 106}));
}

TEST(ModelConfigTest, DefaultPatternIsSixWhenNoKeyGivesIt) {
  TempDir dir("cfg_default_pattern");
  json raw = gemma_270m_config();
  raw.erase("_sliding_window_pattern");
  raw["num_hidden_layers"] = 7;
  const ModelConfig config = ModelConfig::from_hf_json(write_config(dir, raw));
  for (int64_t layer_idx = 0; layer_idx < 7; ++layer_idx) EXPECT_EQ(config.is_sliding(layer_idx), layer_idx != 5);
}

TEST(ModelConfigTest, NewStyleRopeParametersWithLinearScaling) {
  TempDir dir("cfg_rope_parameters");
  json raw = gemma_270m_config();
  raw.erase("rope_theta");
  raw.erase("rope_local_base_freq");
  raw["rope_parameters"] = {{"full_attention", {{"rope_type", "linear"}, {"rope_theta", 500000.0}, {"factor", 8.0}}},
                            {"sliding_attention", {{"rope_type", "default"}, {"rope_theta", 20000.0}}}};
  const ModelConfig config = ModelConfig::from_hf_json(write_config(dir, raw));
  EXPECT_DOUBLE_EQ(config.rope_theta, 500000.0);
  EXPECT_DOUBLE_EQ(config.rope_local_theta, 20000.0);
  EXPECT_DOUBLE_EQ(config.rope_scaling_factor, 8.0);
}

TEST(ModelConfigTest, NestedMultimodalConfigReadsTextConfig) {
  TempDir dir("cfg_nested");
  json text = gemma_270m_config();
  text["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 8.0}};
  text.erase("eos_token_id");
  const json raw{{"model_type", "gemma3"}, {"text_config", text}, {"eos_token_id", {1, 106}}};
  const ModelConfig config = ModelConfig::from_hf_json(write_config(dir, raw));
  EXPECT_EQ(config.hidden_size, 640);
  EXPECT_DOUBLE_EQ(config.rope_scaling_factor, 8.0);
  EXPECT_EQ(config.eos_token_ids, (std::vector<int64_t>{1, 106}));
}

TEST(ModelConfigTest, GenerationConfigEosIdsAreAdded) {
  TempDir dir("cfg_generation");
  write_config(dir, gemma_270m_config());
  write_config(dir, json{{"eos_token_id", {1, 106}}, {"do_sample", true}}, "generation_config.json");
  const ModelConfig config = ModelConfig::from_hf_folder(dir.path());
  EXPECT_EQ(config.eos_token_ids, (std::vector<int64_t>{1, 106}));
}

TEST(ModelConfigTest, MissingKeyNamesFileAndKey) {
  TempDir dir("cfg_missing_key");
  json raw = gemma_270m_config();
  raw.erase("hidden_size");
  const auto path = write_config(dir, raw);
  ASSERT_THROWS_WITH(ModelConfig::from_hf_json(path), FormatError, path.string() + ": missing key 'hidden_size'");
}

TEST(ModelConfigTest, WrongTypeNamesKeyAndValue) {
  TempDir dir("cfg_wrong_type");
  json raw = gemma_270m_config();
  raw["num_attention_heads"] = "four";
  const auto path = write_config(dir, raw);
  ASSERT_THROWS_WITH(ModelConfig::from_hf_json(path), FormatError,
                     "key 'num_attention_heads': expected an integer, got \"four\"");
}

TEST(ModelConfigTest, UnsupportedModelType) {
  TempDir dir("cfg_model_type");
  json raw = gemma_270m_config();
  raw["model_type"] = "phi3";
  ASSERT_THROWS_WITH(ModelConfig::from_hf_json(write_config(dir, raw)), FormatError,
                     "key 'model_type': \"phi3\" is not supported (expected gemma3_text, gemma3, llama, mistral, "
                     "qwen2 or qwen3)");
}

TEST(ModelConfigTest, LayerTypesOfWrongLength) {
  TempDir dir("cfg_layer_count");
  json raw = gemma_270m_config();
  raw["layer_types"] = {"full_attention"};
  ASSERT_THROWS_WITH(ModelConfig::from_hf_json(write_config(dir, raw)), FormatError,
                     "key 'layer_types': expected 18 entries (num_hidden_layers), got 1");
}

TEST(ModelConfigTest, HeadsNotAMultipleOfKvHeads) {
  TempDir dir("cfg_gqa");
  json raw = gemma_270m_config();
  raw["num_key_value_heads"] = 3;
  ASSERT_THROWS_WITH(ModelConfig::from_hf_json(write_config(dir, raw)), FormatError,
                     "num_attention_heads (4) must be a multiple of num_key_value_heads (3)");
}

TEST(ModelConfigTest, MissingFileIsIoError) {
  TempDir dir("cfg_absent");
  ASSERT_THROWS_WITH(ModelConfig::from_hf_json(dir.path() / "config.json"), IoError, "config.json: no such file");
}

// --- The other families (spec §3) ---

// meta-llama/Llama-3.2-1B-Instruct's config.json as spec §3 records it.
json llama_3_2_1b_config() {
  return json{{"architectures", {"LlamaForCausalLM"}},
              {"model_type", "llama"},
              {"hidden_size", 2048},
              {"intermediate_size", 8192},
              {"num_hidden_layers", 16},
              {"num_attention_heads", 32},
              {"num_key_value_heads", 8},
              {"head_dim", 64},
              {"vocab_size", 128256},
              {"max_position_embeddings", 131072},
              {"rms_norm_eps", 1e-5},
              {"rope_theta", 500000.0},
              {"rope_scaling",
               {{"rope_type", "llama3"},
                {"factor", 32.0},
                {"low_freq_factor", 1.0},
                {"high_freq_factor", 4.0},
                {"original_max_position_embeddings", 8192}}},
              {"hidden_act", "silu"},
              {"attention_bias", false},
              {"mlp_bias", false},
              {"tie_word_embeddings", true},
              {"bos_token_id", 128000},
              {"eos_token_id", {128001, 128008, 128009}}};
}

// Qwen/Qwen2.5-0.5B-Instruct's config.json (spec §3).
json qwen2_5_0_5b_config() {
  return json{{"architectures", {"Qwen2ForCausalLM"}},
              {"model_type", "qwen2"},
              {"hidden_size", 896},
              {"intermediate_size", 4864},
              {"num_hidden_layers", 24},
              {"num_attention_heads", 14},
              {"num_key_value_heads", 2},
              {"vocab_size", 151936},
              {"max_position_embeddings", 32768},
              {"max_window_layers", 21},
              {"rms_norm_eps", 1e-6},
              {"rope_theta", 1000000.0},
              {"sliding_window", 32768},
              {"use_sliding_window", false},
              {"hidden_act", "silu"},
              {"tie_word_embeddings", true},
              {"bos_token_id", 151643},
              {"eos_token_id", 151645}};
}

ModelConfig read_config(const TempDir& dir, const json& raw) { return ModelConfig::from_hf_json(write_config(dir, raw)); }

TEST(ModelConfigFamilyTest, ReadsLlama32WithLlama3RopeScaling) {
  TempDir dir("cfg_llama");
  const ModelConfig config = read_config(dir, llama_3_2_1b_config());
  EXPECT_EQ(config.architecture, Architecture::llama);
  EXPECT_EQ(config.norm_gain, NormGain::weight);
  EXPECT_FALSE(config.has_post_norms);
  EXPECT_FALSE(config.has_qk_norm);
  EXPECT_FALSE(config.has_qkv_bias);
  EXPECT_FALSE(config.scales_embeddings);
  EXPECT_EQ(config.mlp_activation, MlpActivation::silu);
  EXPECT_EQ(config.n_kv_heads, 8);
  EXPECT_EQ(config.head_dim, 64);
  EXPECT_DOUBLE_EQ(config.query_pre_attn_scalar, 64);  // attention scale head_dim^-0.5
  EXPECT_DOUBLE_EQ(config.rms_norm_eps, 1e-5);
  EXPECT_DOUBLE_EQ(config.rope_theta, 500000.0);
  EXPECT_DOUBLE_EQ(config.rope_local_theta, 500000.0);
  EXPECT_DOUBLE_EQ(config.rope_scaling_factor, 1.0);
  EXPECT_DOUBLE_EQ(config.rope_llama3.factor, 32.0);
  EXPECT_DOUBLE_EQ(config.rope_llama3.low_freq_factor, 1.0);
  EXPECT_DOUBLE_EQ(config.rope_llama3.high_freq_factor, 4.0);
  EXPECT_DOUBLE_EQ(config.rope_llama3.original_max_position_embeddings, 8192.0);
  EXPECT_EQ(config.sliding_window, 0);
  EXPECT_EQ(config.layer_types, std::vector<AttentionKind>(16, AttentionKind::full));
  EXPECT_TRUE(config.tie_word_embeddings);
  EXPECT_EQ(config.bos_token_id, 128000);
  EXPECT_EQ(config.eos_token_ids, (std::vector<int64_t>{128001, 128008, 128009}));
}

TEST(ModelConfigFamilyTest, Llama3InverseFrequenciesFollowTheWavelengthRule) {
  TempDir dir("cfg_llama_rope");
  const ModelConfig config = read_config(dir, llama_3_2_1b_config());
  const torch::Tensor inv_freq = rope_inv_freq(config, AttentionKind::full);  // float32 [32]
  ASSERT_EQ(inv_freq.sizes(), (std::vector<int64_t>{32}));
  int kept = 0, divided = 0, blended = 0;
  for (int64_t i = 0; i < 32; ++i) {
    const double f = std::pow(500000.0, -2.0 * static_cast<double>(i) / 64.0);
    const double wavelength = 2 * std::numbers::pi / f;
    double expected = f;
    if (wavelength < 8192.0 / 4) {
      ++kept;
    } else if (wavelength > 8192.0) {
      expected = f / 32;
      ++divided;
    } else {
      const double s = (8192.0 / wavelength - 1) / (4 - 1);
      expected = (1 - s) * f / 32 + s * f;
      ++blended;
    }
    EXPECT_NEAR(inv_freq[i].item<double>(), expected, 1e-6 * expected) << "i " << i;
  }
  EXPECT_GT(kept, 0);
  EXPECT_GT(divided, 0);
  EXPECT_GT(blended, 0);
  // Sliding tables are unscaled (and no Llama layer is sliding).
  EXPECT_NEAR(rope_inv_freq(config, AttentionKind::sliding)[31].item<double>(), std::pow(500000.0, -62.0 / 64.0), 1e-12);
}

TEST(ModelConfigFamilyTest, LlamaDefaultsFromTheConfigClass) {
  TempDir dir("cfg_llama_defaults");
  json raw = llama_3_2_1b_config();
  for (const char* key : {"num_key_value_heads", "head_dim", "rms_norm_eps", "rope_theta", "rope_scaling",
                          "tie_word_embeddings", "hidden_act"}) {
    raw.erase(key);
  }
  const ModelConfig config = read_config(dir, raw);
  EXPECT_EQ(config.n_kv_heads, 32);
  EXPECT_EQ(config.head_dim, 2048 / 32);
  EXPECT_DOUBLE_EQ(config.rms_norm_eps, 1e-6);
  EXPECT_DOUBLE_EQ(config.rope_theta, 1e4);
  EXPECT_DOUBLE_EQ(config.rope_llama3.factor, 0);
  EXPECT_FALSE(config.tie_word_embeddings);
}

TEST(ModelConfigFamilyTest, TransformersV5FlatRopeParameters) {
  TempDir dir("cfg_llama_v5");
  json raw = llama_3_2_1b_config();
  raw.erase("rope_theta");
  raw.erase("rope_scaling");
  raw["rope_parameters"] = {{"rope_type", "llama3"}, {"rope_theta", 500000.0}, {"factor", 8.0},
                            {"low_freq_factor", 1.0}, {"high_freq_factor", 4.0}};
  const ModelConfig config = read_config(dir, raw);
  EXPECT_DOUBLE_EQ(config.rope_theta, 500000.0);
  EXPECT_DOUBLE_EQ(config.rope_llama3.factor, 8.0);
  // Absent original_max_position_embeddings: max_position_embeddings, as transformers fills it.
  EXPECT_DOUBLE_EQ(config.rope_llama3.original_max_position_embeddings, 131072.0);
}

TEST(ModelConfigFamilyTest, ReadsQwen25WithQkvBiasAndNoWindow) {
  TempDir dir("cfg_qwen2");
  const ModelConfig config = read_config(dir, qwen2_5_0_5b_config());
  EXPECT_EQ(config.architecture, Architecture::qwen2);
  EXPECT_TRUE(config.has_qkv_bias);
  EXPECT_FALSE(config.has_qk_norm);
  EXPECT_EQ(config.head_dim, 64);  // 896 / 14
  EXPECT_EQ(config.sliding_window, 0);  // use_sliding_window false
  EXPECT_EQ(config.layer_types, std::vector<AttentionKind>(24, AttentionKind::full));
  EXPECT_DOUBLE_EQ(config.rope_theta, 1e6);
  EXPECT_TRUE(config.tie_word_embeddings);
  EXPECT_EQ(config.eos_token_ids, std::vector<int64_t>{151645});
}

TEST(ModelConfigFamilyTest, QwenSlidingWindowFromMaxWindowLayers) {
  TempDir dir("cfg_qwen2_window");
  json raw = qwen2_5_0_5b_config();
  raw["use_sliding_window"] = true;
  raw["sliding_window"] = 4096;
  const ModelConfig config = read_config(dir, raw);
  EXPECT_EQ(config.sliding_window, 4096);
  for (int64_t layer_idx = 0; layer_idx < 24; ++layer_idx) EXPECT_EQ(config.is_sliding(layer_idx), layer_idx >= 21);
}

TEST(ModelConfigFamilyTest, ReadsQwen3WithQkNormAndHeadDimDefault128) {
  TempDir dir("cfg_qwen3");
  json raw = qwen2_5_0_5b_config();
  raw["model_type"] = "qwen3";
  raw["hidden_size"] = 1024;
  raw["num_attention_heads"] = 16;
  raw["num_key_value_heads"] = 8;
  const ModelConfig config = read_config(dir, raw);
  EXPECT_EQ(config.architecture, Architecture::qwen3);
  EXPECT_TRUE(config.has_qk_norm);
  EXPECT_FALSE(config.has_qkv_bias);
  EXPECT_EQ(config.norm_gain, NormGain::weight);
  EXPECT_EQ(config.head_dim, 128);  // Qwen3Config's default, not 1024 / 16
  EXPECT_DOUBLE_EQ(config.query_pre_attn_scalar, 128);
}

TEST(ModelConfigFamilyTest, MistralSlidingWindowAbsentNullAndGiven) {
  TempDir dir("cfg_mistral");
  json raw = llama_3_2_1b_config();
  raw["model_type"] = "mistral";
  raw.erase("rope_scaling");
  raw.erase("head_dim");
  raw["rope_theta"] = 10000.0;
  raw["num_hidden_layers"] = 4;
  const ModelConfig absent = read_config(dir, raw);
  EXPECT_EQ(absent.architecture, Architecture::mistral);
  EXPECT_EQ(absent.sliding_window, 4096);  // MistralConfig's default
  EXPECT_EQ(absent.layer_types, std::vector<AttentionKind>(4, AttentionKind::sliding));
  EXPECT_DOUBLE_EQ(absent.rope_local_theta, 10000.0);  // sliding layers use the one base
  raw["sliding_window"] = nullptr;
  const ModelConfig null_window = read_config(dir, raw);
  EXPECT_EQ(null_window.sliding_window, 0);
  EXPECT_EQ(null_window.layer_types, std::vector<AttentionKind>(4, AttentionKind::full));
  raw["sliding_window"] = 8;
  EXPECT_EQ(read_config(dir, raw).sliding_window, 8);
}

TEST(ModelConfigFamilyTest, FamilyErrorsNameFileAndKey) {
  TempDir dir("cfg_family_errors");
  json raw = llama_3_2_1b_config();
  raw["attention_bias"] = true;
  auto path = write_config(dir, raw);
  ASSERT_THROWS_WITH(ModelConfig::from_hf_json(path), FormatError,
                     path.string() + ": key 'attention_bias': attention biases are not supported for llama");
  raw = llama_3_2_1b_config();
  raw["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  path = write_config(dir, raw);
  ASSERT_THROWS_WITH(ModelConfig::from_hf_json(path), FormatError,
                     "key 'rope_scaling': rope type 'yarn' is not supported (expected default, linear or llama3)");
  raw = llama_3_2_1b_config();
  raw["hidden_act"] = "gelu";
  ASSERT_THROWS_WITH(ModelConfig::from_hf_json(write_config(dir, raw)), FormatError,
                     "key 'hidden_act': expected \"silu\", got \"gelu\"");
  raw = llama_3_2_1b_config();
  raw.erase("head_dim");
  raw["num_attention_heads"] = 30;
  raw["num_key_value_heads"] = 10;
  ASSERT_THROWS_WITH(ModelConfig::from_hf_json(write_config(dir, raw)), FormatError,
                     "without 'head_dim', hidden_size (2048) must be a multiple of num_attention_heads (30)");
  raw = qwen2_5_0_5b_config();
  raw.erase("vocab_size");
  path = write_config(dir, raw);
  ASSERT_THROWS_WITH(ModelConfig::from_hf_json(path), FormatError, path.string() + ": missing key 'vocab_size'");
  raw = qwen2_5_0_5b_config();
  raw["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  raw["use_sliding_window"] = true;
  raw["max_window_layers"] = 0;
  ASSERT_THROWS_WITH(ModelConfig::from_hf_json(write_config(dir, raw)), FormatError,
                     "RoPE scaling together with sliding-window layers is not supported for qwen2");
}

TEST(ModelConfigTest, ArchitectureNames) {
  EXPECT_STREQ(to_string(Architecture::gemma3), "gemma3");
  EXPECT_STREQ(to_string(Architecture::qwen3), "qwen3");
}

}  // namespace
}  // namespace abliterate::model
