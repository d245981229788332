// Reads GGUF files (spec/model-runtime.md §5.1): header, metadata key/value
// pairs, tensor infos, then the aligned tensor data. Like ggml's gguf.cpp,
// open() checks every count, length, dimension, type id, offset and the
// alignment before it allocates anything for them; each error names the file
// and the key or tensor at fault.
//
// A GgufFile owns a read-only memory mapping of its file for its lifetime;
// metadata values are decoded from the mapping on request, so a 262k-entry
// vocabulary costs nothing until asked for. Immutable after open(); safe to
// share between threads. It does not depend on LibTorch (the fuzz target
// builds it with clang, which cannot compile LibTorch 1.13's headers in
// C++20); GgufReader (gguf_reader.hpp) adds loading tensors as torch tensors.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "abliterate/formats/ggml_types.hpp"
#include "abliterate/formats/mapped_file.hpp"

namespace abliterate::formats {

namespace detail {
class GgufCursor;  // src/formats/gguf_bytes.hpp
}  // namespace detail

// GGUF metadata value types (spec §5.1), with the file's ids.
enum class GgufValueType : uint32_t {
  u8 = 0,
  i8 = 1,
  u16 = 2,
  i16 = 3,
  u32 = 4,
  i32 = 5,
  f32 = 6,
  boolean = 7,
  string = 8,
  array = 9,
  u64 = 10,
  i64 = 11,
  f64 = 12,
};

// gguf.cpp's spelling: "u32", "string", "array", ...
const char* to_string(GgufValueType type);

// Where one metadata value sits in the file; the value itself is decoded by
// the typed getters.
struct GgufKeyInfo {
  std::string key;
  GgufValueType type = GgufValueType::u8;
  GgufValueType array_type = GgufValueType::u8;  // element type; meaningful when type == array
  uint64_t array_count = 0;                      // elements; meaningful when type == array
  uint64_t value_offset = 0;                     // file offset of the value (of the first element for arrays)
  uint64_t entry_offset = 0;                     // file offset of the whole entry (its key's length)
  uint64_t entry_end = 0;                        // file offset just past the value
};

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> shape;  // PyTorch order: the file's ne[] reversed (spec §5.1)
  GgmlType type = GgmlType::f32;
  uint64_t offset = 0;      // relative to the start of the data section; a multiple of the alignment
  uint64_t size_bytes = 0;  // ne[0] / block * block_bytes * ne[1] * ne[2] * ne[3]

  int64_t numel() const;
};

// The versions we read; v1 (32-bit counts) is rejected (spec §5.1).
inline constexpr uint32_t kGgufVersionMin = 2;
inline constexpr uint32_t kGgufVersionMax = 3;
// `general.alignment` when the key is absent (ggml GGUF_DEFAULT_ALIGNMENT).
inline constexpr uint64_t kGgufDefaultAlignment = 32;
// ggml's GGML_MAX_DIMS.
inline constexpr uint32_t kGgufMaxDims = 4;
// Name limits of spec §5.1: keys <= 65535 bytes, tensor names <= 64 bytes.
inline constexpr uint64_t kGgufMaxKeyBytes = 65535;
inline constexpr uint64_t kGgufMaxTensorNameBytes = 64;
// Arrays may nest (spec §5.1); deeper than this is treated as corruption.
inline constexpr int kGgufMaxArrayDepth = 8;

class GgufFile {
 public:
  // Maps `path` and validates it: magic "GGUF" (the error prints the bytes
  // found), version 2 or 3, tensor and key counts that fit the file, every
  // string length inside the file, known value types, no duplicate keys or
  // tensor names, general.alignment a u32 power of two, n_dims <= 4,
  // overflow-safe element and byte counts, known ggml type, ne[0] divisible by
  // the type's block size, offsets aligned, and every tensor's data inside
  // the file without overlapping another's. Throws IoError (cannot
  // open/map) or FormatError naming the file and key or tensor.
  static GgufFile open(const std::filesystem::path& path);
  // The same checks on `contents` (MappedFile::map or copy_of); `path` only names it in errors.
  static GgufFile open(const std::filesystem::path& path, std::unique_ptr<MappedFile> contents);

  GgufFile(GgufFile&&) noexcept;
  GgufFile& operator=(GgufFile&&) noexcept;
  ~GgufFile();

  const std::filesystem::path& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  // File offset of the tensor data section.
  uint64_t data_offset() const { return data_offset_; }

  // ---- metadata -------------------------------------------------------------

  // Every key, in file order.
  const std::vector<GgufKeyInfo>& keys() const { return keys_; }
  // nullptr when the file has no key `key`.
  const GgufKeyInfo* find_key(const std::string& key) const;
  bool has_key(const std::string& key) const { return find_key(key) != nullptr; }

  // Required getters throw FormatError "<file>: key 'x' is missing" when the
  // key is absent; the find_* variants return nullopt instead. Both throw
  // FormatError "<file>: key 'x': expected u32, got string" (with the
  // accepted types) when the stored type does not fit.
  //
  // Any integer type (u8..i64; spec §5.1: counts are u32 or u64), as int64;
  // a u64 above INT64_MAX is an error.
  int64_t get_int(const std::string& key) const;
  std::optional<int64_t> find_int(const std::string& key) const;
  // f32 or f64, as double.
  double get_float(const std::string& key) const;
  std::optional<double> find_float(const std::string& key) const;
  bool get_bool(const std::string& key) const;
  std::optional<bool> find_bool(const std::string& key) const;
  std::string get_string(const std::string& key) const;
  std::optional<std::string> find_string(const std::string& key) const;
  // Arrays: of strings; of f32/f64 (as float); of any integer type (as int64).
  std::vector<std::string> get_string_array(const std::string& key) const;
  std::optional<std::vector<std::string>> find_string_array(const std::string& key) const;
  std::vector<float> get_float_array(const std::string& key) const;
  std::optional<std::vector<float>> find_float_array(const std::string& key) const;
  std::vector<int64_t> get_int_array(const std::string& key) const;
  std::optional<std::vector<int64_t>> find_int_array(const std::string& key) const;

  // The entry's bytes as the file holds them (key, type, value), so that a
  // writer can copy it unchanged.
  std::span<const uint8_t> entry_bytes(const GgufKeyInfo& info) const;

  // ---- tensors ----------------------------------------------------------------

  // Every tensor, in file order.
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  // nullptr when the file has no tensor `name`.
  const GgufTensorInfo* find_tensor(const std::string& name) const;
  // Throws FormatError "<file>: no tensor 'x'" when absent.
  const GgufTensorInfo& tensor_info(const std::string& name) const;

  // The tensor's raw bytes inside the mapping (valid while the reader lives),
  // for callers that keep data quantized.
  std::span<const uint8_t> tensor_bytes(const GgufTensorInfo& info) const;

 private:
  GgufFile(std::filesystem::path path, std::unique_ptr<MappedFile> mapping);

  // open()'s reading, in file order; each step checks its section before
  // the next is read (spec §5.1).
  struct HeaderCounts {
    uint64_t n_tensors = 0;
    uint64_t n_keys = 0;
  };
  void parse();
  HeaderCounts read_header(detail::GgufCursor& cursor);
  void read_metadata(detail::GgufCursor& cursor, uint64_t n_keys);
  void read_alignment();
  void read_tensor_infos(detail::GgufCursor& cursor, uint64_t n_tensors);
  void check_tensor_data() const;
  // The entry for `key` when present and of an accepted type; `expected`
  // names the accepted types for the error. nullptr when absent.
  const GgufKeyInfo* typed_key(const std::string& key, std::span<const GgufValueType> accepted,
                               const char* expected) const;
  const GgufKeyInfo& required_key(const GgufKeyInfo* info, const std::string& key) const;

  std::filesystem::path path_;
  std::unique_ptr<MappedFile> mapping_;
  uint32_t version_ = 0;
  uint64_t alignment_ = kGgufDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::vector<GgufKeyInfo> keys_;
  std::map<std::string, size_t> key_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

}  // namespace abliterate::formats
