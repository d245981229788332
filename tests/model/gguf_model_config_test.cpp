// ModelConfig from GGUF metadata (spec/model-runtime.md §5.5), the vocabulary
// and chat template read from the same metadata: hand-built files for each
// rule, then the two real models that scripts/setup downloads.
#include "abliterate/model/gguf_model_config.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "abliterate/chat/gguf_chat_template.hpp"
#include "abliterate/common/error.hpp"
#include "abliterate/tokenizer/gguf_vocab.hpp"
#include "model/gguf_test_writer.hpp"
#include "support/throws_with.hpp"

namespace abliterate::model {
namespace {

using testing::GgufTempDir;
using testing::GgufTestWriter;
using testing::TestValueType;

constexpr uint32_t kF32 = 0;

// An F32 tensor of ggml extents `ne` (zeros: only the shape matters here).
void add_zero_tensor(GgufTestWriter& writer, const std::string& name, const std::vector<uint64_t>& ne) {
  uint64_t numel = 1;
  for (uint64_t extent : ne) numel *= extent;
  writer.tensor(name, ne, kF32, std::string(numel * sizeof(float), '\0'));
}

// Gemma 3 270m's keys (spec §5.5 table) with a 6-token vocabulary and 7 layers.
GgufTestWriter gemma_writer() {
  GgufTestWriter w;
  w.kv_string("general.architecture", "gemma3");
  w.kv_u32("gemma3.context_length", 32768);
  w.kv_u32("gemma3.embedding_length", 8);
  w.kv_u32("gemma3.block_count", 7);
  w.kv_u32("gemma3.feed_forward_length", 16);
  w.kv_u32("gemma3.attention.head_count", 4);
  w.kv_u32("gemma3.attention.head_count_kv", 1);
  w.kv_u32("gemma3.attention.key_length", 256);
  w.kv_u32("gemma3.attention.value_length", 256);
  w.kv_f32("gemma3.attention.layer_norm_rms_epsilon", 1e-6f);
  w.kv_u32("gemma3.attention.sliding_window", 512);
  w.kv_f32("gemma3.rope.freq_base", 1e6f);
  w.kv_string("tokenizer.ggml.model", "llama");
  w.kv_string_array("tokenizer.ggml.tokens", {"<pad>", "<eos>", "<bos>", "<unk>", "<end_of_turn>", "a"});
  w.kv_u32("tokenizer.ggml.bos_token_id", 2);
  w.kv_u32("tokenizer.ggml.eos_token_id", 1);
  w.kv_u32("tokenizer.ggml.padding_token_id", 0);
  add_zero_tensor(w, "token_embd.weight", {8, 6});
  return w;
}

// SmolLM2-135M's keys (a llama file) with a 4-token vocabulary.
GgufTestWriter llama_writer() {
  GgufTestWriter w;
  w.kv_string("general.architecture", "llama");
  w.kv_u32("llama.block_count", 30);
  w.kv_u32("llama.embedding_length", 576);
  w.kv_u32("llama.feed_forward_length", 1536);
  w.kv_u32("llama.attention.head_count", 9);
  w.kv_u32("llama.attention.head_count_kv", 3);
  w.kv_f32("llama.rope.freq_base", 100000.0f);
  w.kv_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  w.kv_u32("llama.rope.dimension_count", 64);
  w.kv_string("tokenizer.ggml.model", "gpt2");
  w.kv_string_array("tokenizer.ggml.tokens", {"<|endoftext|>", "<|im_start|>", "<|im_end|>", "a"});
  w.kv_u32("tokenizer.ggml.bos_token_id", 1);
  w.kv_u32("tokenizer.ggml.eos_token_id", 2);
  add_zero_tensor(w, "token_embd.weight", {576, 4});
  return w;
}

ModelConfig config_of(const GgufTestWriter& writer, const GgufTempDir& dir, const std::string& name = "m.gguf") {
  return model_config_from_gguf(formats::GgufReader::open(writer.write(dir.path() / name)));
}

TEST(GgufModelConfigTest, GemmaKeysAndDerivedValues) {
  GgufTempDir dir("gemma");
  const ModelConfig c = config_of(gemma_writer(), dir);
  EXPECT_EQ(c.architecture, Architecture::gemma3);
  EXPECT_EQ(c.norm_gain, NormGain::one_plus_weight);
  EXPECT_TRUE(c.has_post_norms);
  EXPECT_EQ(c.n_layers, 7);
  EXPECT_EQ(c.hidden_size, 8);
  EXPECT_EQ(c.intermediate_size, 16);
  EXPECT_EQ(c.n_heads, 4);
  EXPECT_EQ(c.n_kv_heads, 1);
  EXPECT_EQ(c.head_dim, 256);
  EXPECT_EQ(c.vocab_size, 6);                  // token_embd's rows
  EXPECT_EQ(c.rms_norm_eps, 1e-6);             // the f32 read back as the decimal it was written from
  EXPECT_EQ(c.rope_theta, 1e6);
  EXPECT_EQ(c.rope_local_theta, 10000.0);      // no rope.freq_base_swa: Gemma's default
  EXPECT_EQ(c.rope_scaling_factor, 1.0);
  EXPECT_EQ(c.query_pre_attn_scalar, 256.0);   // = head_dim
  EXPECT_EQ(c.sliding_window, 512);
  const std::vector<AttentionKind> pattern = {AttentionKind::sliding, AttentionKind::sliding, AttentionKind::sliding,
                                              AttentionKind::sliding, AttentionKind::sliding, AttentionKind::full,
                                              AttentionKind::sliding};
  EXPECT_EQ(c.layer_types, pattern);
  EXPECT_TRUE(c.tie_word_embeddings);          // no output.weight
  EXPECT_EQ(c.bos_token_id, 2);
  EXPECT_EQ(c.pad_token_id, 0);
  EXPECT_EQ(c.eos_token_ids, std::vector<int64_t>{1});
  EXPECT_EQ(c.final_logit_softcapping, 0.0);
}

TEST(GgufModelConfigTest, GemmaOptionalKeys) {
  GgufTempDir dir("gemma_opt");
  GgufTestWriter w = gemma_writer();
  w.kv_f32("gemma3.rope.freq_base_swa", 20000.0f);
  w.kv_string("gemma3.rope.scaling.type", "linear");
  w.kv_f32("gemma3.rope.scaling.factor", 8.0f);
  w.kv_f32("gemma3.final_logit_softcapping", 30.0f);
  w.kv_u32("tokenizer.ggml.eot_token_id", 4);
  w.kv_u32("tokenizer.ggml.eom_token_id", 1);  // repeated ids are kept once
  add_zero_tensor(w, "output.weight", {8, 6});
  const ModelConfig c = config_of(w, dir);
  EXPECT_EQ(c.rope_local_theta, 20000.0);
  EXPECT_EQ(c.rope_scaling_factor, 8.0);
  EXPECT_EQ(c.final_logit_softcapping, 30.0);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{1, 4}));
  EXPECT_FALSE(c.tie_word_embeddings);
}

TEST(GgufModelConfigTest, LlamaKeysAndDerivedValues) {
  GgufTempDir dir("llama");
  const ModelConfig c = config_of(llama_writer(), dir);
  EXPECT_EQ(c.architecture, Architecture::llama);
  EXPECT_EQ(c.norm_gain, NormGain::weight);
  EXPECT_FALSE(c.has_post_norms);
  EXPECT_FALSE(c.has_qk_norm);
  EXPECT_EQ(c.mlp_activation, MlpActivation::silu);
  EXPECT_EQ(c.n_layers, 30);
  EXPECT_EQ(c.hidden_size, 576);
  EXPECT_EQ(c.n_heads, 9);
  EXPECT_EQ(c.n_kv_heads, 3);
  EXPECT_EQ(c.head_dim, 64);                   // no key_length: hidden / heads
  EXPECT_EQ(c.query_pre_attn_scalar, 64.0);    // scale head_dim^-0.5
  EXPECT_EQ(c.rope_theta, 100000.0);
  EXPECT_EQ(c.rope_local_theta, 100000.0);
  EXPECT_EQ(c.rms_norm_eps, 1e-5);
  EXPECT_EQ(c.sliding_window, 0);
  EXPECT_EQ(c.layer_types, std::vector<AttentionKind>(30, AttentionKind::full));
  EXPECT_EQ(c.vocab_size, 4);
  EXPECT_EQ(c.pad_token_id, -1);
  EXPECT_EQ(c.eos_token_ids, std::vector<int64_t>{2});
}

TEST(GgufModelConfigTest, QwenArchitectures) {
  GgufTempDir dir("qwen");
  for (const auto& [name, arch] : {std::pair{"qwen2", Architecture::qwen2}, std::pair{"qwen3", Architecture::qwen3}}) {
    SCOPED_TRACE(name);
    GgufTestWriter w;
    const std::string a = name;
    w.kv_string("general.architecture", a);
    w.kv_u32(a + ".block_count", 2);
    w.kv_u32(a + ".embedding_length", 16);
    w.kv_u32(a + ".feed_forward_length", 32);
    w.kv_u32(a + ".attention.head_count", 2);
    w.kv_u32(a + ".attention.head_count_kv", 1);
    w.kv_u32(a + ".attention.key_length", 12);
    w.kv_f32(a + ".attention.layer_norm_rms_epsilon", 1e-6f);
    add_zero_tensor(w, "token_embd.weight", {16, 3});
    const ModelConfig c = config_of(w, dir, a + ".gguf");
    EXPECT_EQ(c.architecture, arch);
    EXPECT_EQ(c.head_dim, 12);  // key_length wins over hidden/heads (Qwen3's explicit head_dim)
    EXPECT_EQ(c.has_qkv_bias, arch == Architecture::qwen2);
    EXPECT_EQ(c.has_qk_norm, arch == Architecture::qwen3);
    EXPECT_EQ(c.rope_theta, 10000.0);  // llama.cpp's default base
  }
}

TEST(GgufModelConfigErrorTest, MissingKeyNamesFileAndKey) {
  GgufTempDir dir("nokey");
  GgufTestWriter w;
  w.kv_string("general.architecture", "llama");
  w.kv_u32("llama.embedding_length", 8);
  const auto path = w.write(dir.path() / "nokey.gguf");
  ASSERT_THROWS_WITH(model_config_from_gguf(formats::GgufReader::open(path)), FormatError,
                     path.string() + ": key 'llama.block_count' is missing");
}

TEST(GgufModelConfigErrorTest, BadValuesNameFileAndKey) {
  GgufTempDir dir("bad");
  {
    GgufTestWriter w = llama_writer();
    w.kv_string("llama.rope.scaling.type", "yarn");
    const auto path = w.write(dir.path() / "yarn.gguf");
    ASSERT_THROWS_WITH(model_config_from_gguf(formats::GgufReader::open(path)), FormatError,
                       path.string() + ": key 'llama.rope.scaling.type': \"yarn\" is not supported");
  }
  {
    GgufTestWriter w = llama_writer();
    w.kv_u32("tokenizer.ggml.eot_token_id", 99);
    const auto path = w.write(dir.path() / "eot.gguf");
    ASSERT_THROWS_WITH(model_config_from_gguf(formats::GgufReader::open(path)), FormatError,
                       path.string() + ": key 'tokenizer.ggml.eot_token_id': 99 is not a token id");
  }
  {
    GgufTestWriter w = llama_writer();
    add_zero_tensor(w, "rope_freqs.weight", {32});
    const auto path = w.write(dir.path() / "rope_freqs.gguf");
    ASSERT_THROWS_WITH(model_config_from_gguf(formats::GgufReader::open(path)), FormatError,
                       path.string() + ": tensor 'rope_freqs.weight'");
  }
  {
    GgufTestWriter w;
    w.kv_string("general.architecture", "llama");
    w.kv_u32("llama.block_count", 2);
    w.kv_u32("llama.embedding_length", 8);
    w.kv_u32("llama.feed_forward_length", 8);
    w.kv_u32("llama.attention.head_count", 2);
    w.kv_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
    const auto path = w.write(dir.path() / "noembd.gguf");
    ASSERT_THROWS_WITH(model_config_from_gguf(formats::GgufReader::open(path)), FormatError,
                       path.string() + ": no tensor 'token_embd.weight'");
  }
}

// ---- vocabulary and chat template ------------------------------------------------------

TEST(GgufVocabTest, ReadsTokenizerKeysWithLlamaCppDefaults) {
  GgufTempDir dir("vocab");
  const formats::GgufReader reader = formats::GgufReader::open(gemma_writer().write(dir.path() / "gemma.gguf"));
  const tokenizer::GgufVocab vocab = tokenizer::read_gguf_vocab(reader);
  EXPECT_EQ(vocab.model, "llama");
  EXPECT_EQ(vocab.pre, "default");
  EXPECT_EQ(vocab.tokens.size(), 6u);
  EXPECT_TRUE(vocab.scores.empty());
  EXPECT_EQ(vocab.bos, 2);
  EXPECT_EQ(vocab.eos, 1);
  EXPECT_EQ(vocab.unk, -1);
  EXPECT_EQ(vocab.pad, 0);
  EXPECT_TRUE(vocab.add_space_prefix);  // absent: llama.cpp's default for SentencePiece vocabularies

  const formats::GgufReader llama = formats::GgufReader::open(llama_writer().write(dir.path() / "llama.gguf"));
  EXPECT_FALSE(tokenizer::read_gguf_vocab(llama).add_space_prefix);  // gpt2 vocabularies never add one
}

TEST(GgufChatTemplateTest, TheFilesTemplateWithItsTokens) {
  GgufTempDir dir("tmpl");
  GgufTestWriter w = llama_writer();
  w.kv_string("tokenizer.chat_template",
              "{{ bos_token }}{% for m in messages %}[{{ m['role'] }}:{{ m['content'] }}]{% endfor %}{{ eos_token }}");
  const formats::GgufReader reader = formats::GgufReader::open(w.write(dir.path() / "t.gguf"));
  const chat::GgufChatTemplate chat = chat::read_gguf_chat_template(reader, tokenizer::read_gguf_vocab(reader));
  EXPECT_TRUE(chat.is_from_file);
  EXPECT_EQ(chat.chat_template.render({{"user", "hi"}}, false), "<|im_start|>[user:hi]<|im_end|>");
}

TEST(GgufChatTemplateTest, GemmaWithoutTemplateGetsTheHfGemmaTemplate) {
  GgufTempDir dir("gemma_tmpl");
  const formats::GgufReader reader = formats::GgufReader::open(gemma_writer().write(dir.path() / "g.gguf"));
  const chat::GgufChatTemplate chat = chat::read_gguf_chat_template(reader, tokenizer::read_gguf_vocab(reader));
  EXPECT_FALSE(chat.is_from_file);
  EXPECT_EQ(chat.chat_template.render({{"system", "Be helpful."}, {"user", "Hello"}}, true),
            "<bos><start_of_turn>user\nBe helpful.\n\nHello<end_of_turn>\n<start_of_turn>model\n");  // spec §2's example
}

TEST(GgufChatTemplateTest, OtherFamiliesWithoutTemplateGetChatMl) {
  GgufTempDir dir("chatml");
  const formats::GgufReader reader = formats::GgufReader::open(llama_writer().write(dir.path() / "l.gguf"));
  const chat::GgufChatTemplate chat = chat::read_gguf_chat_template(reader, tokenizer::read_gguf_vocab(reader));
  EXPECT_FALSE(chat.is_from_file);
  EXPECT_EQ(chat.chat_template.render({{"system", "S"}, {"user", "U"}}, true),
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n");
}

TEST(GgufChatTemplateTest, SyntaxErrorNamesFileAndKey) {
  GgufTempDir dir("bad_tmpl");
  GgufTestWriter w = llama_writer();
  w.kv_string("tokenizer.chat_template", "{% for m in messages %}");
  const auto path = w.write(dir.path() / "bad.gguf");
  const formats::GgufReader reader = formats::GgufReader::open(path);
  ASSERT_THROWS_WITH(chat::read_gguf_chat_template(reader, tokenizer::read_gguf_vocab(reader)), FormatError,
                     path.string() + ": key 'tokenizer.chat_template'");
}

// ---- the real models (scripts/setup puts them in models/) ----------------------------

std::filesystem::path real_model(const char* file) {
  return std::filesystem::path(ABL_SOURCE_DIR) / "models" / file;
}

TEST(GgufModelConfigRealTest, SmolLm2) {
  const auto path = real_model("SmolLM2-135M-Instruct.Q4_1.gguf");
  ASSERT_TRUE(std::filesystem::exists(path)) << path << " is missing: run scripts/setup to download the test models";
  const formats::GgufReader reader = formats::GgufReader::open(path);
  const ModelConfig c = model_config_from_gguf(reader);
  // HuggingFaceTB/SmolLM2-135M-Instruct's config.json.
  EXPECT_EQ(c.architecture, Architecture::llama);
  EXPECT_EQ(c.n_layers, 30);
  EXPECT_EQ(c.hidden_size, 576);
  EXPECT_EQ(c.intermediate_size, 1536);
  EXPECT_EQ(c.n_heads, 9);
  EXPECT_EQ(c.n_kv_heads, 3);
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.vocab_size, 49152);
  EXPECT_EQ(c.rope_theta, 100000.0);
  EXPECT_EQ(c.rms_norm_eps, 1e-5);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.bos_token_id, 1);
  EXPECT_EQ(c.pad_token_id, 2);
  EXPECT_EQ(c.eos_token_ids, std::vector<int64_t>{2});  // <|im_end|>
  const tokenizer::GgufVocab vocab = tokenizer::read_gguf_vocab(reader);
  EXPECT_EQ(vocab.model, "gpt2");
  EXPECT_EQ(vocab.pre, "smollm");
  const chat::GgufChatTemplate chat = chat::read_gguf_chat_template(reader, vocab);
  EXPECT_TRUE(chat.is_from_file);
  EXPECT_EQ(chat.chat_template.render({{"user", "Hi"}}, true),
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
}

TEST(GgufModelConfigRealTest, Gemma3_270m) {
  const auto path = real_model("gemma-3-270m-q4_k_m.gguf");
  ASSERT_TRUE(std::filesystem::exists(path)) << path << " is missing: run scripts/setup to download the test models";
  const formats::GgufReader reader = formats::GgufReader::open(path);
  const ModelConfig c = model_config_from_gguf(reader);
  // spec §1.3: google/gemma-3-270m.
  EXPECT_EQ(c.architecture, Architecture::gemma3);
  EXPECT_EQ(c.n_layers, 18);
  EXPECT_EQ(c.hidden_size, 640);
  EXPECT_EQ(c.intermediate_size, 2048);
  EXPECT_EQ(c.n_heads, 4);
  EXPECT_EQ(c.n_kv_heads, 1);
  EXPECT_EQ(c.head_dim, 256);
  EXPECT_EQ(c.query_pre_attn_scalar, 256.0);
  EXPECT_EQ(c.vocab_size, 262144);
  EXPECT_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_EQ(c.rope_theta, 1e6);
  EXPECT_EQ(c.rope_local_theta, 1e4);
  EXPECT_EQ(c.sliding_window, 512);
  for (int64_t layer_idx = 0; layer_idx < c.n_layers; ++layer_idx) {
    const bool is_full = layer_idx == 5 || layer_idx == 11 || layer_idx == 17;
    EXPECT_EQ(c.is_sliding(layer_idx), !is_full) << "layer " << layer_idx;
  }
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.bos_token_id, 2);
  EXPECT_EQ(c.pad_token_id, 0);
  EXPECT_EQ(c.eos_token_ids, std::vector<int64_t>{1});
  // The base model's file carries no template (spec §2): the HF Gemma 3 one stands in.
  const chat::GgufChatTemplate chat = chat::read_gguf_chat_template(reader, tokenizer::read_gguf_vocab(reader));
  EXPECT_FALSE(chat.is_from_file);
  EXPECT_EQ(chat.chat_template.render({{"user", "Hi"}}, true), "<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n");
}

}  // namespace
}  // namespace abliterate::model
