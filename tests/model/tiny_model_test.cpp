// write_tiny_model: deterministic files that load as a Gemma 3 folder.
#include <algorithm>

#include <gtest/gtest.h>

#include "abliterate/formats/safetensors_reader.hpp"
#include "abliterate/model/model_config.hpp"
#include "abliterate/model/tiny_model.hpp"
#include "abliterate/tokenizer/tokenizer.hpp"
#include "model/model_test_support.hpp"

namespace abliterate::model {
namespace {

using testing::TempDir;

constexpr const char* kTinyFiles[] = {"config.json", "model.safetensors", "tokenizer.json", "chat_template.jinja"};

TEST(TinyModelTest, SameSeedGivesByteIdenticalFiles) {
  TempDir dir("tiny_twice");
  write_tiny_model(dir.path() / "a", TinyModelOptions{});
  write_tiny_model(dir.path() / "b", TinyModelOptions{});
  for (const char* file : kTinyFiles) {
    const std::string a = testing::read_bytes(dir.path() / "a" / file);
    EXPECT_FALSE(a.empty()) << file;
    EXPECT_EQ(a, testing::read_bytes(dir.path() / "b" / file)) << file;
  }
}

TEST(TinyModelTest, OtherSeedChangesOnlyTheWeights) {
  TempDir dir("tiny_seed");
  TinyModelOptions other;
  other.seed = 99;
  write_tiny_model(dir.path() / "a", TinyModelOptions{});
  write_tiny_model(dir.path() / "b", other);
  EXPECT_NE(testing::read_bytes(dir.path() / "a" / "model.safetensors"),
            testing::read_bytes(dir.path() / "b" / "model.safetensors"));
  EXPECT_EQ(testing::read_bytes(dir.path() / "a" / "tokenizer.json"),
            testing::read_bytes(dir.path() / "b" / "tokenizer.json"));
}

TEST(TinyModelTest, ConfigMatchesOptionsAndTokenizer) {
  const auto& folder = testing::tiny_model_folder();
  const ModelConfig config = ModelConfig::from_hf_folder(folder);
  const tokenizer::Tokenizer tokenizer = tokenizer::Tokenizer::from_tokenizer_json(folder / "tokenizer.json");
  EXPECT_EQ(config.hidden_size, 64);
  EXPECT_EQ(config.intermediate_size, 128);
  EXPECT_EQ(config.n_layers, 4);
  EXPECT_EQ(config.n_heads, 2);
  EXPECT_EQ(config.n_kv_heads, 1);
  EXPECT_EQ(config.head_dim, 32);
  EXPECT_EQ(config.sliding_window, 8);
  EXPECT_EQ(config.layer_types, (std::vector<AttentionKind>{AttentionKind::sliding, AttentionKind::sliding,
                                                            AttentionKind::sliding, AttentionKind::full}));
  EXPECT_EQ(config.vocab_size, tokenizer.vocab_size());
  EXPECT_EQ(config.eos_token_ids, (std::vector<int64_t>{kTinyEosId, kTinyEndOfTurnId}));
  EXPECT_EQ(config.bos_token_id, kTinyBosId);
  EXPECT_EQ(config.pad_token_id, kTinyPadId);
  EXPECT_EQ(tokenizer.token_id("<end_of_turn>"), kTinyEndOfTurnId);
  EXPECT_EQ(tokenizer.token_id("<0x00>"), kTinyFirstByteId);
  // A few hundred learned merges on top of the 7 added, 256 byte and 95 character tokens.
  EXPECT_GT(tokenizer.vocab_size(), 358 + 200);

  const formats::SafetensorsReader weights = formats::SafetensorsReader::open(folder / "model.safetensors");
  EXPECT_EQ(weights.find("model.embed_tokens.weight")->shape, (std::vector<int64_t>{config.vocab_size, 64}));
  EXPECT_EQ(weights.tensors().size(), 2u + 13u * 4u);
  // Norm weights are centred on 0 (gain 1 + w), not on 1.
  EXPECT_LT(weights.read("model.norm.weight").abs().mean().item<float>(), 0.3f);
}

// --- The other families ---

class TinyFamilyTest : public ::testing::TestWithParam<Architecture> {};

INSTANTIATE_TEST_SUITE_P(OtherFamilies, TinyFamilyTest,
                         ::testing::Values(Architecture::llama, Architecture::mistral, Architecture::qwen2,
                                           Architecture::qwen3),
                         [](const ::testing::TestParamInfo<Architecture>& info) { return to_string(info.param); });

TEST_P(TinyFamilyTest, SameSeedGivesByteIdenticalFilesAndOtherSeedOtherWeights) {
  TempDir dir("tiny_family_twice");
  const TinyModelOptions options = TinyModelOptions::for_family(GetParam());
  TinyModelOptions other = options;
  other.seed = 99;
  write_tiny_model(dir.path() / "a", options);
  write_tiny_model(dir.path() / "b", options);
  write_tiny_model(dir.path() / "c", other);
  for (const char* file : {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                           "chat_template.jinja"}) {
    const std::string a = testing::read_bytes(dir.path() / "a" / file);
    EXPECT_FALSE(a.empty()) << file;
    EXPECT_EQ(a, testing::read_bytes(dir.path() / "b" / file)) << file;
  }
  EXPECT_NE(testing::read_bytes(dir.path() / "a" / "model.safetensors"),
            testing::read_bytes(dir.path() / "c" / "model.safetensors"));
}

TEST_P(TinyFamilyTest, ConfigNamesTheFamilyAndItsChatTokens) {
  TempDir dir("tiny_family_config");
  write_tiny_model(dir.path() / "m", TinyModelOptions::for_family(GetParam()));
  const ModelConfig config = ModelConfig::from_hf_folder(dir.path() / "m");
  const tokenizer::Tokenizer tokenizer = tokenizer::Tokenizer::from_tokenizer_json(dir.path() / "m" / "tokenizer.json");
  EXPECT_EQ(config.architecture, GetParam());
  EXPECT_EQ(config.hidden_size, 64);
  EXPECT_EQ(config.n_layers, 3);
  EXPECT_EQ(config.vocab_size, tokenizer.vocab_size());
  const char* end_of_turn = GetParam() == Architecture::llama     ? "<|eot_id|>"
                            : GetParam() == Architecture::mistral ? "</s>"
                                                                  : "<|im_end|>";
  const int64_t end_id = tokenizer.token_id(end_of_turn);
  ASSERT_GE(end_id, 0) << end_of_turn;
  EXPECT_NE(std::find(config.eos_token_ids.begin(), config.eos_token_ids.end(), end_id), config.eos_token_ids.end());
  // The Gemma-style ids 0..6 are kept; the family's tokens come after the merges.
  EXPECT_EQ(tokenizer.token_id("<0x00>"), kTinyFirstByteId);
  EXPECT_GT(end_id, 358 + 200);
  EXPECT_EQ(tokenizer.encode(end_of_turn, tokenizer::SpecialTokens::parse), std::vector<int64_t>{end_id});
  const formats::SafetensorsReader weights = formats::SafetensorsReader::open(dir.path() / "m" / "model.safetensors");
  // Llama-style norm weights are centred on 1 (gain w).
  EXPECT_NEAR(weights.read("model.norm.weight").mean().item<float>(), 1.0f, 0.1f);
  EXPECT_EQ(weights.find("lm_head.weight") != nullptr, !config.tie_word_embeddings);
}

TEST(TinyFamilyNameTest, NamesMapToArchitectures) {
  EXPECT_EQ(tiny_family_from_name("qwen3"), Architecture::qwen3);
  EXPECT_EQ(tiny_family_from_name("gemma3"), Architecture::gemma3);
  EXPECT_EQ(tiny_family_from_name("phi3"), std::nullopt);
  // The gemma3 family is the default options (the existing tiny model, unchanged).
  EXPECT_EQ(TinyModelOptions::for_family(Architecture::gemma3).n_layers, TinyModelOptions{}.n_layers);
  EXPECT_EQ(TinyModelOptions::for_family(Architecture::gemma3).architecture, Architecture::gemma3);
}

}  // namespace
}  // namespace abliterate::model
