// tokenizer.json and tokenizer_config.json of a GGUF vocabulary, for
// `abliterate export` of a GGUF model, so that transformers and
// Tokenizer::from_tokenizer_json encode every text as Tokenizer::from_gguf_vocab
// does: a byte-level BPE ("gpt2") with the pre-tokenizer of its
// tokenizer.ggml.pre (the forms the families' own tokenizer.json files use); a
// SentencePiece vocabulary ("llama") as BPE with byte fallback, its merges
// derived from the scores as transformers' GGUF converter derives them.
#pragma once

#include <cstdint>

#include <nlohmann/json.hpp>

#include "abliterate/tokenizer/gguf_vocab.hpp"

namespace abliterate::tokenizer {

// Throws FormatError for a vocabulary it cannot write: a "gpt2" one whose
// tokenizer.ggml.pre has no HF form here, a "llama" one with llama.cpp's
// space prefix (no tokenizer.json normalizer adds it to the first fragment only).
nlohmann::json hf_tokenizer_json(const GgufVocab& vocab);

// bos/eos/unk/pad tokens by text, add_bos_token, model_max_length.
nlohmann::json hf_tokenizer_config_json(const GgufVocab& vocab, int64_t model_max_length);

}  // namespace abliterate::tokenizer
