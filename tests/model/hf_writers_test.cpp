// The HF files `abliterate export` writes for a GGUF model, read back:
// - config.json (hf_config_json) gives ModelConfig::from_hf_json the config
//   the GGUF metadata gave, for both real models;
// - tokenizer.json (hf_tokenizer_json) gives a Tokenizer that encodes the
//   study prompts and a rendered chat as the GGUF vocabulary's does, both for
//   byte-level BPE (SmolLM2) and SentencePiece (Gemma 3);
// - a SentencePiece vocabulary with llama.cpp's space prefix, which no
//   tokenizer.json normalizer spells, is refused with a message naming the key.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "abliterate/chat/gguf_chat_template.hpp"
#include "abliterate/common/error.hpp"
#include "abliterate/formats/gguf_reader.hpp"
#include "abliterate/model/gguf_model_config.hpp"
#include "abliterate/model/hf_config_writer.hpp"
#include "abliterate/tokenizer/gguf_vocab.hpp"
#include "abliterate/tokenizer/hf_tokenizer_writer.hpp"
#include "abliterate/tokenizer/tokenizer.hpp"
#include "model/model_test_support.hpp"
#include "support/throws_with.hpp"

namespace abliterate::model {
namespace {

using testing::TempDir;

std::filesystem::path real_model(const char* file) {
  return std::filesystem::path(ABL_SOURCE_DIR) / "models" / file;
}
constexpr const char* kSmolLm2 = "SmolLM2-135M-Instruct.Q4_1.gguf";
constexpr const char* kGemma3 = "gemma-3-270m-q4_k_m.gguf";

void expect_same_config(const ModelConfig& back, const ModelConfig& gguf) {
  EXPECT_EQ(back.architecture, gguf.architecture);
  EXPECT_EQ(back.norm_gain, gguf.norm_gain);
  EXPECT_EQ(back.has_post_norms, gguf.has_post_norms);
  EXPECT_EQ(back.has_qk_norm, gguf.has_qk_norm);
  EXPECT_EQ(back.has_qkv_bias, gguf.has_qkv_bias);
  EXPECT_EQ(back.mlp_activation, gguf.mlp_activation);
  EXPECT_EQ(back.scales_embeddings, gguf.scales_embeddings);
  EXPECT_EQ(back.hidden_size, gguf.hidden_size);
  EXPECT_EQ(back.intermediate_size, gguf.intermediate_size);
  EXPECT_EQ(back.n_layers, gguf.n_layers);
  EXPECT_EQ(back.n_heads, gguf.n_heads);
  EXPECT_EQ(back.n_kv_heads, gguf.n_kv_heads);
  EXPECT_EQ(back.head_dim, gguf.head_dim);
  EXPECT_EQ(back.vocab_size, gguf.vocab_size);
  EXPECT_EQ(back.rms_norm_eps, gguf.rms_norm_eps);
  EXPECT_EQ(back.rope_theta, gguf.rope_theta);
  EXPECT_EQ(back.rope_local_theta, gguf.rope_local_theta);
  EXPECT_EQ(back.rope_scaling_factor, gguf.rope_scaling_factor);
  EXPECT_EQ(back.rope_llama3.factor, gguf.rope_llama3.factor);
  EXPECT_EQ(back.query_pre_attn_scalar, gguf.query_pre_attn_scalar);
  EXPECT_EQ(back.sliding_window, gguf.sliding_window);
  EXPECT_EQ(back.layer_types, gguf.layer_types);
  EXPECT_EQ(back.tie_word_embeddings, gguf.tie_word_embeddings);
  EXPECT_EQ(back.bos_token_id, gguf.bos_token_id);
  EXPECT_EQ(back.pad_token_id, gguf.pad_token_id);
  EXPECT_EQ(back.eos_token_ids, gguf.eos_token_ids);
  EXPECT_EQ(back.attn_logit_softcapping, gguf.attn_logit_softcapping);
  EXPECT_EQ(back.final_logit_softcapping, gguf.final_logit_softcapping);
}

void write_json(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path) << text;
}

TEST(HfConfigWriter, ConfigJsonReadsBackAsTheGgufConfig) {
  for (const char* file : {kSmolLm2, kGemma3}) {
    SCOPED_TRACE(file);
    const formats::GgufReader reader = formats::GgufReader::open(real_model(file));
    const ModelConfig gguf = model_config_from_gguf(reader);
    TempDir dir("hf_config");
    write_json(dir.path() / "config.json", hf_config_json(gguf, {8192, "float32"}).dump(2));
    nlohmann::json generation = hf_generation_config_json(gguf);
    write_json(dir.path() / "generation_config.json", generation.dump(2));
    expect_same_config(ModelConfig::from_hf_folder(dir.path()), gguf);
  }
}

// Texts from the study prompt sets, and the rendered chat with its special tokens.
std::vector<std::string> sample_texts(const tokenizer::GgufVocab& vocab, const formats::GgufReader& reader) {
  std::vector<std::string> texts = {"Hello world!", "  two  spaces\tand a tab\n", "1234567 digits, 3.14",
                                    "naïve café — ünïcödé 漢字 🙂", "don't we'll I'm"};
  for (const char* set : {"harmful", "harmless"}) {
    std::ifstream in(std::filesystem::path(ABL_SOURCE_DIR) / "jobs" / "data" / set / "train.jsonl");
    std::string line;
    for (int i = 0; i < 40 && std::getline(in, line); ++i) texts.push_back(nlohmann::json::parse(line).at("text"));
  }
  const chat::GgufChatTemplate chat = chat::read_gguf_chat_template(reader, vocab);
  texts.push_back(chat.chat_template.render({{"user", texts.back()}}, /*add_generation_prompt=*/true));
  return texts;
}

// Byte-level BPE (SmolLM2) and SentencePiece with merges from the scores (Gemma 3).
TEST(HfTokenizerWriter, TokenizerJsonEncodesAsTheGgufVocabulary) {
  for (const char* file : {kSmolLm2, kGemma3}) {
    SCOPED_TRACE(file);
    const formats::GgufReader reader = formats::GgufReader::open(real_model(file));
    const tokenizer::GgufVocab vocab = tokenizer::read_gguf_vocab(reader);
    const tokenizer::Tokenizer gguf = tokenizer::Tokenizer::from_gguf_vocab(vocab);
    const tokenizer::Tokenizer written =
        tokenizer::Tokenizer::from_tokenizer_json_text(tokenizer::hf_tokenizer_json(vocab).dump(), "tokenizer.json");
    const std::vector<std::string> texts = sample_texts(vocab, reader);
    ASSERT_GT(texts.size(), 80u);
    for (const std::string& text : texts) {
      const std::vector<int64_t> ids = gguf.encode(text);
      EXPECT_EQ(written.encode(text), ids) << text;
      EXPECT_EQ(written.decode(ids), gguf.decode(ids)) << text;
    }
    const nlohmann::json config = tokenizer::hf_tokenizer_config_json(vocab, 8192);
    EXPECT_EQ(config.at("eos_token"), vocab.tokens.at(static_cast<size_t>(vocab.eos)));
    EXPECT_EQ(config.at("model_max_length"), 8192);
  }
}

TEST(HfTokenizerWriter, SentencePieceWithASpacePrefixIsRefused) {
  const formats::GgufReader reader = formats::GgufReader::open(real_model(kGemma3));
  tokenizer::GgufVocab vocab = tokenizer::read_gguf_vocab(reader);
  vocab.add_space_prefix = true;
  ASSERT_THROWS_WITH(tokenizer::hf_tokenizer_json(vocab), FormatError,
                     "GGUF tokenizer.ggml.add_space_prefix: a SentencePiece vocabulary with a space prefix cannot be "
                     "written as tokenizer.json yet");
}

}  // namespace
}  // namespace abliterate::model
