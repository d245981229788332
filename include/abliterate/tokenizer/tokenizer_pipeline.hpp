// The configurable stages of an HF tokenizer.json around the BPE model
// (spec/model-runtime.md §6.2): normalizer, pre-tokenizer and decoder. Each is
// a list of steps read from JSON; a step type we do not implement yet is a
// FormatError naming it, never silently ignored.
//
// Implemented (Gemma's and Llama-2-style SPM tokenizer.json; byte-level BPE of
// Llama 3 and SmolLM2/GPT-2, spec §6.4):
//   normalizer:    Replace (string pattern), Prepend, Sequence, null
//   pre_tokenizer: Split (string or regex pattern, non-inverted), Digits,
//                  ByteLevel (add_prefix_space=false; must be the last step), Sequence, null
//   decoder:       Replace (string pattern), ByteFallback, Fuse, Strip, ByteLevel, Sequence, null
// Not yet: the NFC normalizer of Qwen's tokenizer.json (a FormatError names it).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "abliterate/tokenizer/regex_splitter.hpp"

namespace abliterate::tokenizer {

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
  // Isolated regex splits applied in turn (llama.cpp's regex_exprs for a GGUF
  // `tokenizer.ggml.pre`), then the byte-level map when `byte_level`.
  static PreTokenizer from_regexes(const std::vector<std::string_view>& patterns, bool byte_level,
                                   const std::string& where);
  // The words of `text` (views into it); one word when there is no pre-tokenizer.
  // When byte_level() the caller still has to byte_level_encode() each word.
  std::vector<std::string_view> split(std::string_view text) const;
  // Whether the last step is ByteLevel: words are byte-mapped before BPE.
  bool byte_level() const { return byte_level_; }

 private:
  enum class SplitBehavior { removed, isolated, merged_with_previous, merged_with_next, contiguous };
  struct Step {
    std::string pattern;  // a literal, unless `regex` is set
    SplitBehavior behavior;
    std::shared_ptr<const RegexSplitter> regex;  // shared: PreTokenizer is copied, the compiled code is immutable
  };
  static void split_step(const Step& step, std::string_view text, std::vector<std::string_view>& out);
  std::vector<Step> steps_;
  bool byte_level_ = false;
};

class TokenDecoder {
 public:
  static TokenDecoder from_json(const nlohmann::json& config, const std::string& file);
  // The ByteLevel decoder alone (GGUF byte-level vocabularies).
  static TokenDecoder byte_level();
  // Joins token texts into the output string (tokenizers' decode_chain, then concatenation).
  std::string decode(std::vector<std::string> tokens) const;
  // Whether later tokens may still change the text decoded up to and
  // including `token`: a ByteFallback byte (a run of them is decoded as one),
  // a ByteLevel token whose bytes are not whole UTF-8 characters, or any token
  // when a Strip step cuts characters from the end.
  bool is_open_ended(const std::string& token) const;

 private:
  struct Step {
    enum class Kind { replace, byte_fallback, fuse, strip, byte_level } kind;
    std::string pattern;  // replace
    std::string content;  // replace: replacement; strip: the character stripped
    size_t strip_start = 0;
    size_t strip_stop = 0;
  };
  std::vector<Step> steps_;
};

}  // namespace abliterate::tokenizer
