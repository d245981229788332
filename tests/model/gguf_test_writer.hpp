// A minimal GGUF writer for tests (spec/model-runtime.md §5.1): builds files
// byte by byte so that each malformed case can bend exactly one field. Not a
// production writer: it trusts its caller.
#pragma once

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

namespace abliterate::model::testing {

// A fresh folder under the system temp dir, removed on destruction.
class GgufTempDir {
 public:
  explicit GgufTempDir(const std::string& tag) {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("abl_gguf_test_" + tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  GgufTempDir(const GgufTempDir&) = delete;
  GgufTempDir& operator=(const GgufTempDir&) = delete;
  ~GgufTempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Little-endian byte appends.
template <typename T>
void append_le(std::string& out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out.append(bytes, sizeof(T));
}

inline void append_gguf_string(std::string& out, const std::string& text) {
  append_le<uint64_t>(out, text.size());
  out += text;
}

// GGUF value type ids (spec §5.1), spelled out independently of the reader.
enum class TestValueType : uint32_t {
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

class GgufTestWriter {
 public:
  uint32_t magic = 0x46554747;  // "GGUF" read as a little-endian u32
  uint32_t version = 3;
  uint64_t alignment = 32;  // used for padding; write "general.alignment" yourself to change the file's
  std::optional<uint64_t> tensor_count_override;
  std::optional<uint64_t> key_count_override;

  // A key with an already-encoded value (type id + value bytes).
  void kv_raw(const std::string& key, uint32_t type_id, const std::string& value_bytes) {
    std::string entry;
    append_gguf_string(entry, key);
    append_le<uint32_t>(entry, type_id);
    entry += value_bytes;
    kvs_.push_back(entry);
  }
  template <typename T>
  void kv_scalar(const std::string& key, TestValueType type, T value) {
    std::string bytes;
    append_le<T>(bytes, value);
    kv_raw(key, static_cast<uint32_t>(type), bytes);
  }
  void kv_u8(const std::string& key, uint8_t v) { kv_scalar(key, TestValueType::u8, v); }
  void kv_i8(const std::string& key, int8_t v) { kv_scalar(key, TestValueType::i8, v); }
  void kv_u16(const std::string& key, uint16_t v) { kv_scalar(key, TestValueType::u16, v); }
  void kv_i16(const std::string& key, int16_t v) { kv_scalar(key, TestValueType::i16, v); }
  void kv_u32(const std::string& key, uint32_t v) { kv_scalar(key, TestValueType::u32, v); }
  void kv_i32(const std::string& key, int32_t v) { kv_scalar(key, TestValueType::i32, v); }
  void kv_u64(const std::string& key, uint64_t v) { kv_scalar(key, TestValueType::u64, v); }
  void kv_i64(const std::string& key, int64_t v) { kv_scalar(key, TestValueType::i64, v); }
  void kv_f32(const std::string& key, float v) { kv_scalar(key, TestValueType::f32, v); }
  void kv_f64(const std::string& key, double v) { kv_scalar(key, TestValueType::f64, v); }
  void kv_bool(const std::string& key, bool v) { kv_scalar<uint8_t>(key, TestValueType::boolean, v ? 1 : 0); }
  void kv_string(const std::string& key, const std::string& v) {
    std::string bytes;
    append_gguf_string(bytes, v);
    kv_raw(key, static_cast<uint32_t>(TestValueType::string), bytes);
  }
  void kv_string_array(const std::string& key, const std::vector<std::string>& values) {
    std::string bytes;
    append_le<uint32_t>(bytes, static_cast<uint32_t>(TestValueType::string));
    append_le<uint64_t>(bytes, values.size());
    for (const std::string& v : values) append_gguf_string(bytes, v);
    kv_raw(key, static_cast<uint32_t>(TestValueType::array), bytes);
  }
  template <typename T>
  void kv_array(const std::string& key, TestValueType element_type, const std::vector<T>& values) {
    std::string bytes;
    append_le<uint32_t>(bytes, static_cast<uint32_t>(element_type));
    append_le<uint64_t>(bytes, values.size());
    for (const T& v : values) append_le<T>(bytes, v);
    kv_raw(key, static_cast<uint32_t>(TestValueType::array), bytes);
  }

  // A tensor with ne in GGUF order (ne[0] fastest), ggml type id and raw data
  // bytes; its offset is the aligned running offset unless `offset` is given.
  void tensor(const std::string& name, const std::vector<uint64_t>& ne, uint32_t type_id, const std::string& data,
              std::optional<uint64_t> offset = std::nullopt) {
    tensors_.push_back({name, ne, type_id, data, offset});
  }

  std::string bytes() const {
    std::string out;
    append_le<uint32_t>(out, magic);
    append_le<uint32_t>(out, version);
    append_le<uint64_t>(out, tensor_count_override.value_or(tensors_.size()));
    append_le<uint64_t>(out, key_count_override.value_or(kvs_.size()));
    for (const std::string& kv : kvs_) out += kv;
    std::string data;
    for (const Tensor& t : tensors_) {
      data.append(padding(data.size()), '\0');
      append_gguf_string(out, t.name);
      append_le<uint32_t>(out, static_cast<uint32_t>(t.ne.size()));
      for (uint64_t extent : t.ne) append_le<uint64_t>(out, extent);
      append_le<uint32_t>(out, t.type_id);
      append_le<uint64_t>(out, t.offset.value_or(data.size()));
      data += t.data;
    }
    out.append(padding(out.size()), '\0');
    return out + data;
  }

  std::filesystem::path write(const std::filesystem::path& path) const {
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    const std::string content = bytes();
    file.write(content.data(), static_cast<std::streamsize>(content.size()));
    return path;
  }

 private:
  struct Tensor {
    std::string name;
    std::vector<uint64_t> ne;
    uint32_t type_id;
    std::string data;
    std::optional<uint64_t> offset;
  };

  size_t padding(size_t size) const { return (alignment - size % alignment) % alignment; }

  std::vector<std::string> kvs_;
  std::vector<Tensor> tensors_;
};

// Writes `bytes` to `path` as is (for truncated files).
inline std::filesystem::path write_gguf_bytes(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

}  // namespace abliterate::model::testing
