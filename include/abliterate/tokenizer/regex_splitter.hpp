// Regex matching for pre-tokenizers (spec/model-runtime.md §6.4) through PCRE2
// compiled with UTF + UCP, so \p{L}, \p{N}, \s are Unicode-aware and the
// lookahead of `\s+(?!\S)` works. Invalid UTF-8 in the subject never throws:
// it cannot be part of a match, so it lands in the gaps between matches.
// Immutable after construction; thread-safe (match data is per call).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct pcre2_real_code_8;

namespace abliterate::tokenizer {

// The split regexes of the byte-level tokenizers (spec §6.4; llama.cpp's llama-vocab.cpp).
// Llama 3 ("llama-bpe"): digits in groups of up to 3, case-insensitive contractions.
inline constexpr std::string_view kLlama3SplitRegex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Qwen2/2.5/3 ("qwen2"): as Llama 3 but one digit per word.
inline constexpr std::string_view kQwen2SplitRegex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// GPT-2, the ByteLevel pre-tokenizer's use_regex=true: case-sensitive contractions.
inline constexpr std::string_view kGpt2SplitRegex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

class RegexSplitter {
 public:
  // Compiles `pattern`; throws FormatError naming `where` and PCRE2's message and offset.
  RegexSplitter(const std::string& pattern, const std::string& where);

  // The [begin, end) byte ranges of the non-overlapping matches in `text`, left
  // to right. An empty match matches nothing and the search moves on one character.
  std::vector<std::pair<size_t, size_t>> find_all(std::string_view text) const;

  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  std::shared_ptr<pcre2_real_code_8> code_;
};

// "Isolated" split (tokenizers' SplitDelimiterBehavior::Isolated): every match
// and every non-empty gap between matches becomes a word, in order. Views `text`.
std::vector<std::string_view> split_isolated(const RegexSplitter& regex, std::string_view text);

}  // namespace abliterate::tokenizer
