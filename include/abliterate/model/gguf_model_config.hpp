// ModelConfig from the metadata of a GGUF file (spec/model-runtime.md §5.5),
// the counterpart of ModelConfig::from_hf_json for HF folders.
#pragma once

#include "abliterate/formats/gguf_reader.hpp"
#include "abliterate/model/model_config.hpp"

namespace abliterate::model {

// Reads general.architecture (gemma3, llama, qwen2, qwen3) and the {arch}.*
// keys: block_count, embedding_length, feed_forward_length,
// attention.head_count(_kv), attention.key_length (default hidden/heads),
// attention.layer_norm_rms_epsilon, rope.freq_base, rope.scaling.*; for gemma3
// also attention.sliding_window, rope.freq_base_swa and the softcapping keys.
// Derived as llama.cpp derives them: vocab_size = token_embd.weight's rows
// (§5.7.3), tie_word_embeddings = no output.weight, Gemma 3's layer pattern
// (every 6th layer global) and query_pre_attn_scalar (= head_dim; hidden/heads
// for the 62-layer 27B). Token ids from tokenizer.ggml.*: bos, padding, and
// as eos ids the eos, eot and eom ids. Float keys stored as f32 are read as the
// shortest decimal that rounds to them (9.9999997e-06 -> 1e-05), so values
// equal those of the HF config the file was made from.
// Throws FormatError naming the file and key when a required key is missing,
// has the wrong type or an impossible value, or the architecture or a rope
// scaling type is not supported.
ModelConfig model_config_from_gguf(const formats::GgufReader& reader);

}  // namespace abliterate::model
