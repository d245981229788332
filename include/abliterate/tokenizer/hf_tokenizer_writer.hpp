// tokenizer.json and tokenizer_config.json of a GGUF vocabulary, for
// `abliterate export` of a GGUF model: the byte-level BPE ("gpt2") of the
// GGUF written as HF tokenizers spells it, with the pre-tokenizer of its
// tokenizer.ggml.pre (the forms the families' own tokenizer.json files use),
// so that transformers and Tokenizer::from_tokenizer_json encode every text as
// Tokenizer::from_gguf_vocab does.
#pragma once

#include <cstdint>

#include <nlohmann/json.hpp>

#include "abliterate/tokenizer/gguf_vocab.hpp"

namespace abliterate::tokenizer {

// Throws FormatError for a vocabulary it cannot write: SentencePiece ("llama")
// vocabularies, and a "gpt2" one whose tokenizer.ggml.pre has no HF form here.
nlohmann::json hf_tokenizer_json(const GgufVocab& vocab);

// bos/eos/unk/pad tokens by text, add_bos_token, model_max_length.
nlohmann::json hf_tokenizer_config_json(const GgufVocab& vocab, int64_t model_max_length);

}  // namespace abliterate::tokenizer
