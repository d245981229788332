// Writes a tiny random Gemma 3 model folder that tests and the quick demo use:
// config.json (gemma3_text), model.safetensors (seeded random fp32 weights),
// tokenizer.json (small BPE vocabulary with byte fallback) and a Gemma chat
// template. Nothing is downloaded.
#pragma once

#include <cstdint>
#include <filesystem>

namespace abliterate::model {

struct TinyModelOptions {
  int64_t hidden_size = 64;
  int64_t intermediate_size = 128;
  int64_t n_layers = 4;
  int64_t n_heads = 2;
  int64_t n_kv_heads = 1;
  int64_t head_dim = 32;
  int64_t sliding_window = 8;
  uint64_t seed = 1234;
};

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

// Creates `folder` (and parents) and writes config.json (eos_token_id
// [kTinyEosId, kTinyEndOfTurnId], last layer full attention, the others
// sliding), model.safetensors, tokenizer.json and chat_template.jinja (the HF
// Gemma 3 template). The same options give byte-identical files. Throws IoError.
void write_tiny_model(const std::filesystem::path& folder, const TinyModelOptions& options);

}  // namespace abliterate::model
