// Writes a tiny random model folder of one decoder family that tests, the
// quick demo and the transformers reference scripts use: config.json (the
// family's model_type and architectures), model.safetensors (seeded random
// fp32 weights under HF names), tokenizer.json (small BPE vocabulary with byte
// fallback, plus the family's chat tokens), the family's chat template and,
// except for Gemma 3, tokenizer_config.json naming bos/eos. Nothing is downloaded.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "abliterate/model/model_config.hpp"

namespace abliterate::model {

// The defaults are Gemma 3's tiny model; for_family() gives each family's.
struct TinyModelOptions {
  Architecture architecture = Architecture::gemma3;
  int64_t hidden_size = 64;
  int64_t intermediate_size = 128;
  int64_t n_layers = 4;
  int64_t n_heads = 2;
  int64_t n_kv_heads = 1;
  int64_t head_dim = 32;
  int64_t sliding_window = 8;  // Gemma 3 and Mistral; ignored by the others
  uint64_t seed = 1234;

  // The tiny model of one family (hidden 64, vocabulary of the tiny tokenizer):
  // gemma3: the defaults above (4 layers, 2 heads, 1 KV head, head_dim 32, window 8,
  //   last layer global, tied).
  // llama: 3 layers, 4 heads, 2 KV heads, head_dim 16, rope_theta 5e5 with llama3
  //   scaling (factor 32, low 1, high 4, original 8192), eps 1e-5, untied.
  // mistral: 3 layers, 4 heads, 2 KV heads, head_dim 16, sliding window 8 on every
  //   layer, rope_theta 1e4, eps 1e-5, untied.
  // qwen2: 3 layers, 4 heads, 2 KV heads, head_dim 16, q/k/v biases, rope_theta 1e6, tied.
  // qwen3: 3 layers, 4 heads, 2 KV heads, head_dim 32 (!= hidden/heads), q/k norms,
  //   rope_theta 1e6, tied.
  static TinyModelOptions for_family(Architecture architecture);
};

// "gemma3", "llama", "mistral", "qwen2", "qwen3" -> the architecture; nullopt otherwise.
std::optional<Architecture> tiny_family_from_name(const std::string& name);

// Ids of the tiny tokenizer's added tokens (Gemma's roles, different numbers).
// All but kTinyNewlineId are special. Then come the 256 byte tokens
// <0x00>..<0xFF> (ids 7..262), "▁" and the printable ASCII characters, and the
// merged tokens learned from a small built-in English text.
inline constexpr int64_t kTinyPadId = 0;
inline constexpr int64_t kTinyEosId = 1;
inline constexpr int64_t kTinyBosId = 2;
inline constexpr int64_t kTinyUnkId = 3;
inline constexpr int64_t kTinyStartOfTurnId = 4;
inline constexpr int64_t kTinyEndOfTurnId = 5;  // the second eos id, like Gemma's 106
inline constexpr int64_t kTinyNewlineId = 6;    // "\n", added but not special, like Gemma's 107
inline constexpr int64_t kTinyFirstByteId = 7;

// Creates `folder` (and parents) and writes config.json, model.safetensors,
// tokenizer.json and chat_template.jinja. Gemma 3: eos_token_id [kTinyEosId,
// kTinyEndOfTurnId], last layer full attention, the others sliding, the HF
// Gemma 3 template. The other families append their chat tokens to the tiny
// vocabulary (Llama 3: <|begin_of_text|> <|end_of_text|> <|start_header_id|>
// <|end_header_id|> <|eot_id|>; Qwen: <|endoftext|> <|im_start|> <|im_end|>,
// Qwen3 also <think> </think>; Mistral: <s> </s> [INST] [/INST]), take bos/eos
// from them, use the chat templates of tests/fixtures/chat_templates, and write
// tokenizer_config.json. The same options give byte-identical files. Throws IoError.
void write_tiny_model(const std::filesystem::path& folder, const TinyModelOptions& options);

}  // namespace abliterate::model
