// GPT-2 byte <-> unicode map: see include/abliterate/tokenizer/byte_level.hpp.
#include "abliterate/tokenizer/byte_level.hpp"

#include <array>
#include <unordered_map>

#include "abliterate/common/utf8.hpp"

namespace abliterate::tokenizer {

namespace {

std::string utf8_of(uint32_t code) {
  std::string out;
  if (code < 0x80) {
    out.push_back(static_cast<char>(code));
  } else {  // the map only reaches U+0143: two bytes suffice
    out.push_back(static_cast<char>(0xC0 | (code >> 6)));
    out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
  }
  return out;
}

bool keeps_code_point(uint32_t byte) {
  return (byte >= 0x21 && byte <= 0x7E) || (byte >= 0xA1 && byte <= 0xAC) || (byte >= 0xAE && byte <= 0xFF);
}

struct ByteMap {
  std::array<std::string, 256> to_char;
  std::unordered_map<std::string, uint8_t> to_byte;
  ByteMap() {
    uint32_t next_shifted = 0x100;  // GPT-2's bytes_to_unicode(): 256 + n for the n-th unprintable byte
    for (uint32_t byte = 0; byte < 256; ++byte) {
      const uint32_t code = keeps_code_point(byte) ? byte : next_shifted++;
      to_char[byte] = utf8_of(code);
      to_byte.emplace(to_char[byte], static_cast<uint8_t>(byte));
    }
  }
};

const ByteMap& byte_map() {
  static const ByteMap map;
  return map;
}

}  // namespace

const std::string& byte_level_char(uint8_t value) { return byte_map().to_char[value]; }

std::string byte_level_encode(std::string_view bytes) {
  const ByteMap& map = byte_map();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) out += map.to_char[static_cast<uint8_t>(c)];
  return out;
}

bool byte_level_decode(std::string_view text, std::string& out) {
  const ByteMap& map = byte_map();
  std::string decoded;
  decoded.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const size_t length = utf8_char_length(text, pos);
    const auto it = map.to_byte.find(std::string(text.substr(pos, length)));
    if (it == map.to_byte.end()) return false;
    decoded.push_back(static_cast<char>(it->second));
    pos += length;
  }
  out += decoded;
  return true;
}

}  // namespace abliterate::tokenizer
