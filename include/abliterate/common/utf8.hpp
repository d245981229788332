// UTF-8 helpers (spec/model-runtime.md §6), shared by prompt sets, tokenizers
// and templates: splitting text into characters and checking byte runs.
// Invalid input never throws: a byte that does not start a well-formed
// character is a one-byte "character", which byte fallback encodes as <0xXX>.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace abliterate {

// Length in bytes of the character starting at text[pos]: 1-4 for a
// well-formed sequence, 1 for an invalid byte. Precondition: pos < text.size().
size_t utf8_char_length(std::string_view text, size_t pos);

// `text` split into characters as utf8_char_length delimits them; the views
// point into `text`.
std::vector<std::string_view> utf8_split(std::string_view text);

// Whether `bytes` is entirely well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
bool is_valid_utf8(std::string_view bytes);

// `bytes` with every ill-formed run replaced by one U+FFFD per maximal
// subpart, as Rust's String::from_utf8_lossy (the tokenizers library's
// ByteLevel decoder) does: "\xE2\x82A" -> U+FFFD "A".
std::string utf8_lossy(std::string_view bytes);

// U+FFFD, what invalid byte-fallback runs decode to (one per byte, as HF's ByteFallback does).
inline constexpr std::string_view kUtf8ReplacementChar = "\xEF\xBF\xBD";

// "▁" (U+2581), SentencePiece's visible space.
inline constexpr std::string_view kSpmSpace = "\xE2\x96\x81";

}  // namespace abliterate
