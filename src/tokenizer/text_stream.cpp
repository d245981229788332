// TextStream: see include/abliterate/tokenizer/text_stream.hpp.
#include "abliterate/tokenizer/text_stream.hpp"

#include <algorithm>

#include "abliterate/common/utf8.hpp"

namespace abliterate::tokenizer {

namespace {

// Length of `text` without a trailing truncated UTF-8 sequence (a lead byte
// followed by fewer continuation bytes than it announces).
size_t without_truncated_char(std::string_view text) {
  const size_t n = text.size();
  for (size_t back = 1; back <= std::min<size_t>(3, n); ++back) {
    const auto byte = static_cast<unsigned char>(text[n - back]);
    if ((byte & 0xC0) == 0x80) continue;  // a continuation byte: look further back for the lead
    const size_t expected = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : byte >= 0xC0 ? 2 : 1;
    return expected > back ? n - back : n;
  }
  return n;
}

// Length of `text` without trailing U+FFFD characters.
size_t without_replacement_chars(std::string_view text) {
  size_t n = text.size();
  while (n >= kUtf8ReplacementChar.size() &&
         text.substr(n - kUtf8ReplacementChar.size(), kUtf8ReplacementChar.size()) == kUtf8ReplacementChar) {
    n -= kUtf8ReplacementChar.size();
  }
  return n;
}

}  // namespace

std::string TextStream::advance(std::string_view decoded_so_far) {
  if (decoded_so_far.substr(0, printed_.size()) != printed_) return {};
  std::string_view stable = decoded_so_far.substr(0, without_truncated_char(decoded_so_far));
  stable = stable.substr(0, without_replacement_chars(stable));
  if (stable.size() <= printed_.size()) return {};
  std::string increment(stable.substr(printed_.size()));
  printed_ += increment;
  return increment;
}

std::string TextStream::finish(std::string_view decoded_final) {
  const auto mismatch = std::mismatch(printed_.begin(), printed_.end(), decoded_final.begin(), decoded_final.end());
  std::string rest(decoded_final.substr(static_cast<size_t>(mismatch.second - decoded_final.begin())));
  printed_ += rest;
  return rest;
}

}  // namespace abliterate::tokenizer
