// The tokenizer metadata of a GGUF file (spec/model-runtime.md §5.5), as plain
// data: whoever reads the file fills it in, Tokenizer::from_gguf_vocab builds
// the tokenizer (spec §6.3, §6.4). Keys in comments are the GGUF ones.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace abliterate::formats {
class GgufFile;  // gguf_file.hpp; a GgufReader is one
}  // namespace abliterate::formats

namespace abliterate::tokenizer {

struct GgufVocab {
  std::string model;                 // tokenizer.ggml.model: "llama" (SentencePiece BPE by scores) or "gpt2" (byte-level BPE)
  std::string pre = "default";       // tokenizer.ggml.pre: gpt2 split regexes (llama-bpe, qwen2, smollm, gpt-2, default)
  std::vector<std::string> tokens;   // tokenizer.ggml.tokens: text by id
  std::vector<float> scores;         // tokenizer.ggml.scores: llama merge priority (higher first); may be empty for gpt2
  std::vector<int32_t> token_types;  // tokenizer.ggml.token_type: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte; empty = all normal
  std::vector<std::string> merges;   // tokenizer.ggml.merges: "left right", rank = index (gpt2 only)
  int64_t bos = -1;                  // tokenizer.ggml.bos_token_id (-1: absent)
  int64_t eos = -1;                  // tokenizer.ggml.eos_token_id
  int64_t unk = -1;                  // tokenizer.ggml.unknown_token_id
  int64_t pad = -1;                  // tokenizer.ggml.padding_token_id
  bool add_bos = false;              // tokenizer.ggml.add_bos_token (encode() never adds BOS regardless)
  bool add_space_prefix = false;     // tokenizer.ggml.add_space_prefix (llama only; llama.cpp defaults it to true when absent)
};

// The tokenizer.ggml.* keys of `reader`'s file, with llama.cpp's defaults for
// absent optional keys (pre "default"; add_space_prefix true for "llama",
// false otherwise). Throws FormatError naming the file and key when
// tokenizer.ggml.model or .tokens is missing or a key has the wrong type.
GgufVocab read_gguf_vocab(const formats::GgufFile& reader);

}  // namespace abliterate::tokenizer
