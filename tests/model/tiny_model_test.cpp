// write_tiny_model: deterministic files that load as a Gemma 3 folder.
#include <gtest/gtest.h>

#include "abliterate/model/model_config.hpp"
#include "abliterate/model/safetensors_reader.hpp"
#include "abliterate/model/tiny_model.hpp"
#include "abliterate/model/tokenizer.hpp"
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
  const Tokenizer tokenizer = Tokenizer::from_tokenizer_json(folder / "tokenizer.json");
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

  const SafetensorsReader weights = SafetensorsReader::open(folder / "model.safetensors");
  EXPECT_EQ(weights.find("model.embed_tokens.weight")->shape, (std::vector<int64_t>{config.vocab_size, 64}));
  EXPECT_EQ(weights.tensors().size(), 2u + 13u * 4u);
  // Norm weights are centred on 0 (gain 1 + w), not on 1.
  EXPECT_LT(weights.read("model.norm.weight").abs().mean().item<float>(), 0.3f);
}

}  // namespace
}  // namespace abliterate::model
