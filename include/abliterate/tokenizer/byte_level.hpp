// GPT-2's byte <-> unicode map for byte-level BPE (spec/model-runtime.md §6.4):
// every byte becomes one printable character so that BPE vocabularies never
// hold raw control bytes or spaces. Bytes 0x21-0x7E, 0xA1-0xAC, 0xAE-0xFF keep
// their code point; the other 68 map in increasing order to U+0100, U+0101, ...
// (space -> "Ġ" U+0120, "\n" -> "Ċ" U+010A). Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace abliterate::tokenizer {

// The UTF-8 text of the character byte `value` maps to.
const std::string& byte_level_char(uint8_t value);

// Maps every byte of `bytes` (any bytes, valid UTF-8 or not) to its character.
std::string byte_level_encode(std::string_view bytes);

// The inverse for one token's text. Returns false (and leaves `out` as it was)
// when some character of `text` is not in the map; the tokenizers library's
// ByteLevel decoder then keeps the token's raw UTF-8 (added tokens).
bool byte_level_decode(std::string_view text, std::string& out);

}  // namespace abliterate::tokenizer
