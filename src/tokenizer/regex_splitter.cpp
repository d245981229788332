// RegexSplitter: see include/abliterate/tokenizer/regex_splitter.hpp.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "abliterate/tokenizer/regex_splitter.hpp"

#include <pcre2.h>

#include "abliterate/common/error.hpp"
#include "abliterate/common/utf8.hpp"

namespace abliterate::tokenizer {

namespace {

std::string pcre2_message(int error_code) {
  PCRE2_UCHAR buffer[256];
  const int length = pcre2_get_error_message(error_code, buffer, sizeof(buffer));
  return length < 0 ? fmt::format("PCRE2 error {}", error_code)
                    : std::string(reinterpret_cast<const char*>(buffer), static_cast<size_t>(length));
}

}  // namespace

RegexSplitter::RegexSplitter(const std::string& pattern, const std::string& where) : pattern_(pattern) {
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  // MATCH_INVALID_UTF: tokenizer input may hold invalid UTF-8 (tests feed it on purpose).
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error_code, &error_offset,
                                   nullptr);
  ABL_CHECK(code != nullptr, FormatError, "{}: regex \"{}\" does not compile at offset {}: {}", where, pattern,
            error_offset, pcre2_message(error_code));
  // JIT is only a speed-up; the interpreter gives identical matches when it is unavailable.
  (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  code_.reset(code, [](pcre2_code* c) { pcre2_code_free(c); });
}

std::vector<std::pair<size_t, size_t>> RegexSplitter::find_all(std::string_view text) const {
  std::vector<std::pair<size_t, size_t>> matches;
  const std::unique_ptr<pcre2_match_data, void (*)(pcre2_match_data*)> data(
      pcre2_match_data_create_from_pattern(code_.get(), nullptr), [](pcre2_match_data* d) { pcre2_match_data_free(d); });
  ABL_CHECK(data != nullptr, InternalError, "regex \"{}\": out of memory for match data", pattern_);
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t start = 0;
  while (start < text.size()) {
    const int rc = pcre2_match(code_.get(), subject, text.size(), start, 0, data.get(), nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    ABL_CHECK(rc >= 0, InternalError, "regex \"{}\": matching failed: {}", pattern_, pcre2_message(rc));
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(data.get());
    const size_t begin = ovector[0];
    const size_t end = ovector[1];
    if (end > begin) {
      matches.emplace_back(begin, end);
      start = end;
    } else {
      if (begin >= text.size()) break;
      start = begin + utf8_char_length(text, begin);
    }
  }
  return matches;
}

std::vector<std::string_view> split_isolated(const RegexSplitter& regex, std::string_view text) {
  std::vector<std::string_view> words;
  size_t gap_begin = 0;
  for (const auto& [begin, end] : regex.find_all(text)) {
    if (begin > gap_begin) words.push_back(text.substr(gap_begin, begin - gap_begin));
    words.push_back(text.substr(begin, end - begin));
    gap_begin = end;
  }
  if (gap_begin < text.size()) words.push_back(text.substr(gap_begin));
  return words;
}

}  // namespace abliterate::tokenizer
