// UTF-8 helpers: see include/abliterate/common/utf8.hpp.
#include "abliterate/common/utf8.hpp"

#include <cstdint>

namespace abliterate {

size_t utf8_char_length(std::string_view text, size_t pos) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  const uint8_t lead = byte(pos);
  size_t length = 0;
  uint32_t min_code = 0;
  uint32_t code = 0;
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) { length = 2; min_code = 0x80; code = lead & 0x1F; }
  else if ((lead & 0xF0) == 0xE0) { length = 3; min_code = 0x800; code = lead & 0x0F; }
  else if ((lead & 0xF8) == 0xF0) { length = 4; min_code = 0x10000; code = lead & 0x07; }
  else return 1;
  if (pos + length > text.size()) return 1;
  for (size_t i = 1; i < length; ++i) {
    const uint8_t next = byte(pos + i);
    if ((next & 0xC0) != 0x80) return 1;
    code = (code << 6) | (next & 0x3F);
  }
  // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are invalid.
  if (code < min_code || (code >= 0xD800 && code <= 0xDFFF) || code > 0x10FFFF) return 1;
  return length;
}

std::vector<std::string_view> utf8_split(std::string_view text) {
  std::vector<std::string_view> chars;
  for (size_t pos = 0; pos < text.size();) {
    const size_t length = utf8_char_length(text, pos);
    chars.push_back(text.substr(pos, length));
    pos += length;
  }
  return chars;
}

bool is_valid_utf8(std::string_view bytes) {
  size_t pos = 0;
  while (pos < bytes.size()) {
    const size_t length = utf8_char_length(bytes, pos);
    if (length == 1 && static_cast<uint8_t>(bytes[pos]) >= 0x80) return false;
    pos += length;
  }
  return true;
}

std::string utf8_lossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  size_t pos = 0;
  while (pos < bytes.size()) {
    const size_t length = utf8_char_length(bytes, pos);
    const auto lead = static_cast<uint8_t>(bytes[pos]);
    if (length > 1 || lead < 0x80) {
      out.append(bytes, pos, length);
      pos += length;
      continue;
    }
    // An ill-formed sequence: swallow the longest prefix that could still have
    // become a character (Unicode's "maximal subpart"), then emit one U+FFFD.
    size_t expected = 0;
    uint8_t second_low = 0x80;
    uint8_t second_high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) expected = 2;
    else if (lead >= 0xE0 && lead <= 0xEF) {
      expected = 3;
      if (lead == 0xE0) second_low = 0xA0;
      if (lead == 0xED) second_high = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      expected = 4;
      if (lead == 0xF0) second_low = 0x90;
      if (lead == 0xF4) second_high = 0x8F;
    }
    size_t consumed = 1;
    for (size_t i = 1; i < expected && pos + i < bytes.size(); ++i) {
      const auto next = static_cast<uint8_t>(bytes[pos + i]);
      const bool ok = i == 1 ? (next >= second_low && next <= second_high) : (next & 0xC0) == 0x80;
      if (!ok) break;
      consumed = i + 1;
    }
    out.append(kUtf8ReplacementChar);
    pos += consumed;
  }
  return out;
}

}  // namespace abliterate
