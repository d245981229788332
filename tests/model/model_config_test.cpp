// ModelConfig::from_hf_json / from_hf_folder (spec/model-runtime.md §1.2-§1.3).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "abliterate/common/error.hpp"
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
  raw["model_type"] = "llama";
  ASSERT_THROWS_WITH(ModelConfig::from_hf_json(write_config(dir, raw)), FormatError,
                     "key 'model_type': \"llama\" is not supported yet");
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

TEST(ModelConfigTest, ArchitectureNames) {
  EXPECT_STREQ(to_string(Architecture::gemma3), "gemma3");
  EXPECT_STREQ(to_string(Architecture::qwen3), "qwen3");
}

}  // namespace
}  // namespace abliterate::model
