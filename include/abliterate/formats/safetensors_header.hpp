// The header of an HF safetensors file (spec/model-runtime.md §4): an 8-byte
// header length, then a JSON header describing one byte buffer. Parsed and
// checked here without LibTorch (SafetensorsReader reads the tensors; the fuzz
// target builds this part with clang). Pure functions; safe from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace abliterate::formats {

// The element types the runtime reads. Other safetensors dtypes (I8, F64,
// F8_*, ...) are rejected with the dtype's name.
enum class SafetensorsDtype { f32, f16, bf16 };

// The header spelling: "F32", "F16", "BF16".
const char* to_string(SafetensorsDtype dtype);
int64_t item_size_bytes(SafetensorsDtype dtype);

struct SafetensorsTensorInfo {
  std::string name;
  SafetensorsDtype dtype = SafetensorsDtype::f32;
  std::vector<int64_t> shape;  // row-major; empty = scalar
  uint64_t data_begin = 0;     // byte offsets relative to the start of the byte buffer; end exclusive
  uint64_t data_end = 0;
};

// Largest header the reference reader accepts (safetensors' Rust crate, MAX_HEADER_SIZE).
inline constexpr uint64_t kSafetensorsMaxHeaderBytes = 100'000'000;

// A parsed, fully checked header.
struct SafetensorsHeader {
  uint64_t buffer_offset = 0;                   // file offset of the byte buffer: 8 + header length
  std::vector<SafetensorsTensorInfo> tensors;   // ordered by data offset
  std::map<std::string, std::string> metadata;  // "__metadata__"; empty when absent
};

// Parses the `size_bytes` bytes at `data` (the whole file; nullptr when
// empty) with the checks SafetensorsReader::open documents. Throws
// FormatError naming `file` and, where there is one, the tensor.
SafetensorsHeader parse_safetensors_header(const std::string& file, const uint8_t* data, uint64_t size_bytes);

}  // namespace abliterate::formats
