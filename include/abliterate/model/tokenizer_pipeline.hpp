// The configurable stages of an HF tokenizer.json around the BPE model
// (spec/model-runtime.md §6.2): normalizer, pre-tokenizer and decoder. Each is
// a list of steps read from JSON; a step type we do not implement yet is a
// FormatError naming it, never silently ignored.
//
// Implemented now (what Gemma's and Llama-2-style SPM tokenizer.json use):
//   normalizer:    Replace (string pattern), Prepend, Sequence, null
//   pre_tokenizer: Split (string pattern, non-inverted), Sequence, null
//   decoder:       Replace (string pattern), ByteFallback, Fuse, Strip, Sequence, null
// Byte-level BPE (regex Split, ByteLevel, NFC; spec §6.4) adds steps here.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace abliterate::model {

class Normalizer {
 public:
  // `config` is tokenizer.json's "normalizer" (may be null). `file` names errors.
  static Normalizer from_json(const nlohmann::json& config, const std::string& file);
  std::string apply(std::string_view text) const;

 private:
  struct Step {
    enum class Kind { replace, prepend } kind;
    std::string pattern;  // replace: the literal searched
    std::string content;  // replace: the replacement; prepend: the prefix
  };
  std::vector<Step> steps_;
};

class PreTokenizer {
 public:
  static PreTokenizer from_json(const nlohmann::json& config, const std::string& file);
  // The words of `text` (views into it); one word when there is no pre-tokenizer.
  std::vector<std::string_view> split(std::string_view text) const;

 private:
  enum class SplitBehavior { removed, isolated, merged_with_previous, merged_with_next, contiguous };
  struct Step {
    std::string pattern;  // a literal
    SplitBehavior behavior;
  };
  static void split_step(const Step& step, std::string_view text, std::vector<std::string_view>& out);
  std::vector<Step> steps_;
};

class TokenDecoder {
 public:
  static TokenDecoder from_json(const nlohmann::json& config, const std::string& file);
  // Joins token texts into the output string (tokenizers' decode_chain, then concatenation).
  std::string decode(std::vector<std::string> tokens) const;

 private:
  struct Step {
    enum class Kind { replace, byte_fallback, fuse, strip } kind;
    std::string pattern;  // replace
    std::string content;  // replace: replacement; strip: the character stripped
    size_t strip_start = 0;
    size_t strip_stop = 0;
  };
  std::vector<Step> steps_;
};

}  // namespace abliterate::model
