// Byte-level reading of a GGUF file, shared by its layout checks
// (gguf_file.cpp) and its typed metadata reads (gguf_metadata.cpp). Private to
// src/formats: nothing outside GgufFile reads GGUF bytes.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>

#include "abliterate/common/error.hpp"
#include "abliterate/formats/gguf_file.hpp"

namespace abliterate::formats::detail {

// 301211648 -> "301,211,648": file sizes in messages (STYLE.md §5).
inline std::string with_commas(uint64_t value) {
  std::string digits = std::to_string(value);
  std::string out;
  for (size_t idx = 0; idx < digits.size(); ++idx) {
    if (idx > 0 && (digits.size() - idx) % 3 == 0) out += ',';
    out += digits[idx];
  }
  return out;
}

inline bool is_known_value_type(uint32_t id) { return id <= static_cast<uint32_t>(GgufValueType::f64); }

// Bytes of one scalar value; 0 for string and array.
inline uint64_t scalar_size_bytes(GgufValueType type) {
  switch (type) {
    case GgufValueType::u8:
    case GgufValueType::i8:
    case GgufValueType::boolean:
      return 1;
    case GgufValueType::u16:
    case GgufValueType::i16:
      return 2;
    case GgufValueType::u32:
    case GgufValueType::i32:
    case GgufValueType::f32:
      return 4;
    case GgufValueType::u64:
    case GgufValueType::i64:
    case GgufValueType::f64:
      return 8;
    case GgufValueType::string:
    case GgufValueType::array:
      return 0;
  }
  return 0;
}

// The fewest bytes one value of `type` can occupy: a string is at least its
// u64 length, an array its u32 type and u64 count.
inline uint64_t min_value_bytes(GgufValueType type) {
  if (type == GgufValueType::string) return 8;
  if (type == GgufValueType::array) return 12;
  return scalar_size_bytes(type);
}

// Bounds-checked sequential reads over the mapped file. `place` names what is
// being read ("header", "key 'general.name'", "tensor 'output.weight'") so
// every error says where the file went wrong.
class GgufCursor {
 public:
  GgufCursor(const uint8_t* data, uint64_t size_bytes, const std::string& file)
      : data_(data), size_bytes_(size_bytes), file_(file) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return size_bytes_ - pos_; }

  void need(uint64_t n_bytes, std::string_view place, std::string_view field) const {
    ABL_CHECK(remaining() >= n_bytes, FormatError,
              "{}: {}: {} at byte {} needs {} bytes but the file has {} bytes; the file is truncated or corrupt", file_,
              place, field, with_commas(pos_), n_bytes, with_commas(size_bytes_));
  }

  template <typename T>
  T read(std::string_view place, std::string_view field) {
    need(sizeof(T), place, field);
    T value{};
    std::memcpy(&value, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return value;
  }

  void skip(uint64_t n_bytes, std::string_view place, std::string_view field) {
    need(n_bytes, place, field);
    pos_ += n_bytes;
  }

  // A gguf_string: u64 length, then that many bytes, which must lie inside the
  // file and be at most `max_bytes` long.
  std::string_view read_string(std::string_view place, std::string_view field, uint64_t max_bytes) {
    const uint64_t length_pos = pos_;
    const auto n_bytes = read<uint64_t>(place, field);
    ABL_CHECK(n_bytes <= remaining(), FormatError,
              "{}: {}: {} at byte {} has length {} which runs past the end of the file ({} bytes); the file is "
              "truncated or corrupt",
              file_, place, field, with_commas(length_pos), with_commas(n_bytes), with_commas(size_bytes_));
    ABL_CHECK(n_bytes <= max_bytes, FormatError, "{}: {}: {} at byte {} is {} bytes long, expected at most {}", file_,
              place, field, with_commas(length_pos), with_commas(n_bytes), max_bytes);
    std::string_view text(reinterpret_cast<const char*>(data_ + pos_), n_bytes);
    pos_ += n_bytes;
    return text;
  }

  // Walks over one value of `type`, checking every length inside it.
  void skip_value(GgufValueType type, std::string_view place, int depth) {
    if (type == GgufValueType::string) {
      read_string(place, "string value", std::numeric_limits<uint64_t>::max());
      return;
    }
    if (type != GgufValueType::array) {
      skip(scalar_size_bytes(type), place, "value");
      return;
    }
    const ArrayHeader header = read_array_header(place, depth);
    skip_elements(header, place, depth);
  }

  struct ArrayHeader {
    GgufValueType element_type;
    uint64_t count;
  };

  // An array's element type and count, checked: known type, depth under the
  // cap, and enough bytes left for `count` elements of the smallest size.
  ArrayHeader read_array_header(std::string_view place, int depth) {
    ABL_CHECK(depth < kGgufMaxArrayDepth, FormatError, "{}: {}: arrays nested deeper than {} levels", file_, place,
              kGgufMaxArrayDepth);
    const auto type_id = read<uint32_t>(place, "array element type");
    ABL_CHECK(is_known_value_type(type_id), FormatError, "{}: {}: unknown array element type {} (expected 0..12)",
              file_, place, type_id);
    const auto element_type = static_cast<GgufValueType>(type_id);
    const uint64_t count_pos = pos_;
    const auto count = read<uint64_t>(place, "array count");
    const uint64_t min_bytes = min_value_bytes(element_type);
    ABL_CHECK(count <= remaining() / min_bytes, FormatError,
              "{}: {}: array of {} {} values at byte {} needs at least {} bytes per value but only {} bytes are "
              "left in the file; the file is truncated or corrupt",
              file_, place, with_commas(count), to_string(element_type), with_commas(count_pos), min_bytes,
              with_commas(remaining()));
    return {element_type, count};
  }

  void skip_elements(const ArrayHeader& header, std::string_view place, int depth) {
    const uint64_t size = scalar_size_bytes(header.element_type);
    if (size > 0) {
      skip(header.count * size, place, "array values");  // count * size <= remaining(): checked above
      return;
    }
    for (uint64_t idx = 0; idx < header.count; ++idx) skip_value(header.element_type, place, depth + 1);
  }

 private:
  const uint8_t* data_;
  uint64_t size_bytes_;
  uint64_t pos_ = 0;
  const std::string& file_;
};

// Little-endian scalar at `p`.
template <typename T>
inline T load(const uint8_t* p) {
  T value{};
  std::memcpy(&value, p, sizeof(T));
  return value;
}

// The integer of `type` at `p`, widened; `fits` is false for a u64 above INT64_MAX.
inline int64_t load_integer(GgufValueType type, const uint8_t* p, bool* fits) {
  *fits = true;
  switch (type) {
    case GgufValueType::u8:
      return load<uint8_t>(p);
    case GgufValueType::i8:
      return load<int8_t>(p);
    case GgufValueType::u16:
      return load<uint16_t>(p);
    case GgufValueType::i16:
      return load<int16_t>(p);
    case GgufValueType::u32:
      return load<uint32_t>(p);
    case GgufValueType::i32:
      return load<int32_t>(p);
    case GgufValueType::i64:
      return load<int64_t>(p);
    case GgufValueType::u64: {
      const auto value = load<uint64_t>(p);
      *fits = value <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
      return static_cast<int64_t>(value);
    }
    default:
      break;
  }
  *fits = false;
  return 0;
}

// A string already validated by open(): u64 length then bytes.
inline std::string_view load_string(const uint8_t* p) {
  const auto n_bytes = load<uint64_t>(p);
  return {reinterpret_cast<const char*>(p + 8), n_bytes};
}

}  // namespace abliterate::formats::detail
