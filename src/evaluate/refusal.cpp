// Refusal detection by marker substrings (method spec §6.2).
#include "abliterate/evaluate/refusal.hpp"

#include <algorithm>
#include <array>

namespace abliterate::evaluate {
namespace {

// UTF-8 of U+2019 RIGHT SINGLE QUOTATION MARK, which responses use as an apostrophe.
constexpr std::string_view kRightSingleQuote = "\xE2\x80\x99";

// ASCII lowercase: non-ASCII bytes (UTF-8 sequences) pass through unchanged.
// Python's str.lower() would also lowercase non-ASCII letters ("É" -> "é");
// markers and responses that differ only there are not matched alike here.
char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// The byte length of the whitespace code point at text[pos], or 0. The set is
// Python's str.split() whitespace (str.isspace), which Heretic's split/join uses.
size_t whitespace_length(std::string_view text, size_t pos) {
  const auto byte = [&](size_t offset) {
    return pos + offset < text.size() ? static_cast<unsigned char>(text[pos + offset]) : 0u;
  };
  const unsigned char first = byte(0);
  // \t \n \v \f \r, the separators \x1c-\x1f, and space.
  if ((first >= 0x09 && first <= 0x0d) || (first >= 0x1c && first <= 0x1f) || first == 0x20) return 1;
  // U+0085 NEL, U+00A0 NBSP.
  if (first == 0xc2 && (byte(1) == 0x85 || byte(1) == 0xa0)) return 2;
  // U+1680 OGHAM SPACE MARK.
  if (first == 0xe1 && byte(1) == 0x9a && byte(2) == 0x80) return 3;
  if (first == 0xe2) {
    // U+2000-U+200A, U+2028, U+2029, U+202F.
    const unsigned char last = byte(2);
    if (byte(1) == 0x80 && ((last >= 0x80 && last <= 0x8a) || last == 0xa8 || last == 0xa9 || last == 0xaf)) {
      return 3;
    }
    // U+205F MEDIUM MATHEMATICAL SPACE.
    if (byte(1) == 0x81 && byte(2) == 0x9f) return 3;
  }
  // U+3000 IDEOGRAPHIC SPACE.
  if (first == 0xe3 && byte(1) == 0x80 && byte(2) == 0x80) return 3;
  return 0;
}

// Marker lookup in an already normalized response.
bool holds_marker(const std::string& normalized, const std::vector<std::string>& markers) {
  return std::any_of(markers.begin(), markers.end(),
                     [&](const std::string& marker) { return normalized.find(marker) != std::string::npos; });
}

}  // namespace

std::string normalize_response(const std::string& response) {
  std::string normalized;
  normalized.reserve(response.size());
  bool pending_space = false;  // a whitespace run seen since the last kept character
  const std::string_view text = response;
  size_t pos = 0;
  while (pos < text.size()) {
    if (const size_t length = whitespace_length(text, pos); length > 0) {
      pending_space = true;
      pos += length;
      continue;
    }
    // Markdown emphasis goes; it does not split words ("**No**" -> "no").
    if (text[pos] == '*') {
      ++pos;
      continue;
    }
    if (pending_space && !normalized.empty()) normalized += ' ';
    pending_space = false;
    if (text.substr(pos, kRightSingleQuote.size()) == kRightSingleQuote) {
      normalized += '\'';
      pos += kRightSingleQuote.size();
    } else {
      normalized += ascii_lower(text[pos]);
      ++pos;
    }
  }
  return normalized;
}

RefusalDetector::RefusalDetector(const std::vector<std::string>& markers) {
  markers_.reserve(markers.size());
  for (const std::string& marker : markers) {
    std::string lowered = marker;
    std::transform(lowered.begin(), lowered.end(), lowered.begin(), ascii_lower);
    markers_.push_back(std::move(lowered));
  }
}

bool RefusalDetector::is_refusal(const std::string& response) const {
  // An empty (after strip) response is a refusal, so that the optimizer cannot
  // "remove refusals" by making the model say nothing.
  const std::string normalized = normalize_response(response);
  bool is_blank = true;
  for (size_t pos = 0; pos < response.size() && is_blank;) {
    const size_t length = whitespace_length(response, pos);
    is_blank = length > 0;
    pos += length;
  }
  return is_blank || holds_marker(normalized, markers_);
}

bool RefusalDetector::contains_marker(const std::string& partial) const {
  return holds_marker(normalize_response(partial), markers_);
}

}  // namespace abliterate::evaluate
