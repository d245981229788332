// The tokenizer.json of the tiny test model (see tiny_model.hpp for its ids):
// a Gemma-style SPM-BPE tokenizer (normalizer Replace " " -> "▁", byte
// fallback, Gemma's decoder) whose merges are learned, deterministically, from
// a small built-in English text so that common words are single tokens.
#pragma once

#include <nlohmann/json.hpp>

namespace abliterate::model {

// The whole tokenizer.json document. Same result on every call.
nlohmann::ordered_json tiny_tokenizer_json();

}  // namespace abliterate::model
