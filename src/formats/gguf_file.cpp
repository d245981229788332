// GgufFile: see include/abliterate/model/gguf_file.hpp and
// spec/model-runtime.md §5.1. Checks follow ggml's gguf.cpp and
// llama-model-loader: every count, length and offset is validated against the
// bytes left in the file before anything is allocated for it.
#include "abliterate/formats/gguf_file.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstring>
#include <functional>
#include <limits>
#include <numeric>
#include <string_view>

#include "abliterate/common/error.hpp"

namespace abliterate::model {

// GGUF is little-endian on disk (v3 big-endian files are rejected by version).
static_assert(std::endian::native == std::endian::little, "GGUF reading assumes a little-endian host");

const char* to_string(GgufValueType type) {
  switch (type) {
    case GgufValueType::u8:
      return "u8";
    case GgufValueType::i8:
      return "i8";
    case GgufValueType::u16:
      return "u16";
    case GgufValueType::i16:
      return "i16";
    case GgufValueType::u32:
      return "u32";
    case GgufValueType::i32:
      return "i32";
    case GgufValueType::f32:
      return "f32";
    case GgufValueType::boolean:
      return "bool";
    case GgufValueType::string:
      return "string";
    case GgufValueType::array:
      return "array";
    case GgufValueType::u64:
      return "u64";
    case GgufValueType::i64:
      return "i64";
    case GgufValueType::f64:
      return "f64";
  }
  return "?";
}

int64_t GgufTensorInfo::numel() const {
  return std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<>());
}

GgufFile::GgufFile(std::filesystem::path path, std::unique_ptr<MappedFile> mapping)
    : path_(std::move(path)), mapping_(std::move(mapping)) {}
GgufFile::GgufFile(GgufFile&&) noexcept = default;
GgufFile& GgufFile::operator=(GgufFile&&) noexcept = default;
GgufFile::~GgufFile() = default;

namespace {

// 301211648 -> "301,211,648": file sizes in messages (STYLE.md §5).
std::string with_commas(uint64_t value) {
  std::string digits = std::to_string(value);
  std::string out;
  for (size_t idx = 0; idx < digits.size(); ++idx) {
    if (idx > 0 && (digits.size() - idx) % 3 == 0) out += ',';
    out += digits[idx];
  }
  return out;
}

bool is_known_value_type(uint32_t id) { return id <= static_cast<uint32_t>(GgufValueType::f64); }

// Bytes of one scalar value; 0 for string and array.
uint64_t scalar_size_bytes(GgufValueType type) {
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
uint64_t min_value_bytes(GgufValueType type) {
  if (type == GgufValueType::string) return 8;
  if (type == GgufValueType::array) return 12;
  return scalar_size_bytes(type);
}

// Bounds-checked sequential reads over the mapped file. `place` names what is
// being read ("header", "key 'general.name'", "tensor 'output.weight'") so
// every error says where the file went wrong.
class Cursor {
 public:
  Cursor(const uint8_t* data, uint64_t size_bytes, const std::string& file)
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
T load(const uint8_t* p) {
  T value{};
  std::memcpy(&value, p, sizeof(T));
  return value;
}

// The integer of `type` at `p`, widened; `fits` is false for a u64 above INT64_MAX.
int64_t load_integer(GgufValueType type, const uint8_t* p, bool* fits) {
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
std::string_view load_string(const uint8_t* p) {
  const auto n_bytes = load<uint64_t>(p);
  return {reinterpret_cast<const char*>(p + 8), n_bytes};
}

constexpr std::array kIntegerTypes = {GgufValueType::u8,  GgufValueType::i8,  GgufValueType::u16, GgufValueType::i16,
                                      GgufValueType::u32, GgufValueType::i32, GgufValueType::u64, GgufValueType::i64};
constexpr std::array kFloatTypes = {GgufValueType::f32, GgufValueType::f64};
constexpr std::array kBoolTypes = {GgufValueType::boolean};
constexpr std::array kStringTypes = {GgufValueType::string};
constexpr const char* kIntegerExpected = "an integer (u8..u64, i8..i64)";
constexpr const char* kFloatExpected = "f32 or f64";

// The magic's bytes as hex plus printable text, for "expected GGUF, got ...".
std::string describe_bytes(const uint8_t* data, size_t n_bytes) {
  std::string hex;
  std::string text;
  for (size_t idx = 0; idx < n_bytes; ++idx) {
    if (idx > 0) hex += ' ';
    hex += fmt::format("{:02x}", data[idx]);
    text += (data[idx] >= 0x20 && data[idx] < 0x7f) ? static_cast<char>(data[idx]) : '.';
  }
  return fmt::format("{} (\"{}\")", hex, text);
}

}  // namespace

GgufFile GgufFile::open(const std::filesystem::path& path) { return open(path, MappedFile::map(path)); }

GgufFile GgufFile::open(const std::filesystem::path& path, std::unique_ptr<MappedFile> contents) {
  GgufFile reader(path, std::move(contents));
  reader.parse();
  return reader;
}

void GgufFile::parse() {
  const std::string file = path_.string();
  const uint8_t* data = mapping_->data;
  const uint64_t file_size = mapping_->size_bytes;
  Cursor cursor(data, file_size, file);

  // ---- magic and version (spec §5.1) ----
  constexpr std::array<uint8_t, 4> kMagic = {'G', 'G', 'U', 'F'};
  ABL_CHECK(file_size >= kMagic.size(), FormatError,
            "{}: not a GGUF file: it has {} bytes, expected at least the 4-byte magic \"GGUF\"", file, file_size);
  ABL_CHECK(std::equal(kMagic.begin(), kMagic.end(), data), FormatError,
            "{}: not a GGUF file: expected magic 47 47 55 46 (\"GGUF\"), got {}", file, describe_bytes(data, 4));
  cursor.skip(kMagic.size(), "header", "magic");
  version_ = cursor.read<uint32_t>("header", "version");
  // A big-endian file stores its version byte-swapped: 3 reads as 0x03000000.
  ABL_CHECK(version_ == 0 || (version_ & 0xFFFFu) != 0, FormatError,
            "{}: GGUF version field is {:#010x}: this looks like a big-endian GGUF file, which is not supported", file,
            version_);
  ABL_CHECK(version_ >= kGgufVersionMin, FormatError,
            "{}: GGUF version {} is not supported (expected {} or {}); re-convert the model with a current llama.cpp",
            file, version_, kGgufVersionMin, kGgufVersionMax);
  ABL_CHECK(version_ <= kGgufVersionMax, FormatError,
            "{}: GGUF version {} is newer than this reader supports (expected {} or {})", file, version_,
            kGgufVersionMin, kGgufVersionMax);
  const auto n_tensors = cursor.read<uint64_t>("header", "tensor count");
  const auto n_keys = cursor.read<uint64_t>("header", "metadata key count");

  // Caps before any allocation: every key takes at least 13 bytes (key
  // length, type, one value byte) and every tensor info at least 24 (name
  // length, n_dims, type, offset).
  constexpr uint64_t kMinKeyBytes = 8 + 4 + 1;
  constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 4 + 8;
  ABL_CHECK(n_keys <= cursor.remaining() / kMinKeyBytes, FormatError,
            "{}: header declares {} metadata keys but only {} bytes follow the header; the file is truncated or "
            "corrupt",
            file, with_commas(n_keys), with_commas(cursor.remaining()));
  ABL_CHECK(n_tensors <= cursor.remaining() / kMinTensorInfoBytes, FormatError,
            "{}: header declares {} tensors but only {} bytes follow the header; the file is truncated or corrupt",
            file, with_commas(n_tensors), with_commas(cursor.remaining()));

  // ---- metadata ----
  keys_.reserve(n_keys);
  for (uint64_t key_idx = 0; key_idx < n_keys; ++key_idx) {
    const std::string key_place = fmt::format("metadata key #{}", key_idx);
    GgufKeyInfo info;
    info.key = std::string(cursor.read_string(key_place, "key", kGgufMaxKeyBytes));
    const std::string place = fmt::format("key '{}'", info.key);
    const auto [it, inserted] = key_index_.emplace(info.key, keys_.size());
    ABL_CHECK(inserted, FormatError, "{}: {}: duplicate key (metadata entries #{} and #{})", file, place, it->second,
              key_idx);
    const auto type_id = cursor.read<uint32_t>(place, "value type");
    ABL_CHECK(is_known_value_type(type_id), FormatError, "{}: {}: unknown value type {} (expected 0..12)", file, place,
              type_id);
    info.type = static_cast<GgufValueType>(type_id);
    if (info.type == GgufValueType::array) {
      const Cursor::ArrayHeader header = cursor.read_array_header(place, 0);
      info.array_type = header.element_type;
      info.array_count = header.count;
      info.value_offset = cursor.pos();
      cursor.skip_elements(header, place, 0);
    } else {
      info.value_offset = cursor.pos();
      cursor.skip_value(info.type, place, 0);
    }
    keys_.push_back(std::move(info));
  }

  // ---- alignment (spec §5.1) ----
  if (const GgufKeyInfo* info = find_key("general.alignment"); info != nullptr) {
    ABL_CHECK(info->type == GgufValueType::u32, FormatError, "{}: key 'general.alignment': expected u32, got {}", file,
              to_string(info->type));
    alignment_ = load<uint32_t>(data + info->value_offset);
    ABL_CHECK(alignment_ != 0 && std::has_single_bit(alignment_), FormatError,
              "{}: key 'general.alignment': expected a power of two, got {}", file, alignment_);
  }

  // ---- tensor infos ----
  tensors_.reserve(n_tensors);
  for (uint64_t tensor_idx = 0; tensor_idx < n_tensors; ++tensor_idx) {
    const std::string info_place = fmt::format("tensor info #{}", tensor_idx);
    GgufTensorInfo info;
    info.name = std::string(cursor.read_string(info_place, "name", kGgufMaxTensorNameBytes));
    const std::string place = fmt::format("tensor '{}'", info.name);
    const auto [it, inserted] = tensor_index_.emplace(info.name, tensors_.size());
    ABL_CHECK(inserted, FormatError, "{}: {}: duplicate tensor name (tensor infos #{} and #{})", file, place,
              it->second, tensor_idx);

    const auto n_dims = cursor.read<uint32_t>(place, "n_dims");
    ABL_CHECK(n_dims <= kGgufMaxDims, FormatError, "{}: {}: expected at most {} dimensions, got {}", file, place,
              kGgufMaxDims, n_dims);
    std::array<int64_t, kGgufMaxDims> ne = {1, 1, 1, 1};
    for (uint32_t dim_idx = 0; dim_idx < n_dims; ++dim_idx) {
      const auto extent = cursor.read<uint64_t>(place, "dimension");
      ABL_CHECK(extent <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()), FormatError,
                "{}: {}: ne[{}] = {} is negative as int64", file, place, dim_idx, extent);
      ne[dim_idx] = static_cast<int64_t>(extent);
    }
    const auto type_id = cursor.read<uint32_t>(place, "ggml type");
    info.offset = cursor.read<uint64_t>(place, "data offset");

    const GgmlTypeTraits* traits = find_ggml_type(type_id);
    ABL_CHECK(traits != nullptr, FormatError, "{}: {}: unknown ggml type id {}", file, place, type_id);
    info.type = traits->type;
    ABL_CHECK(ne[0] % traits->block_size == 0, FormatError,
              "{}: {}: ne[0] = {} is not a multiple of {}'s block size {}", file, place, ne[0], traits->name,
              traits->block_size);
    int64_t n_elements = 1;
    for (uint32_t dim_idx = 0; dim_idx < kGgufMaxDims; ++dim_idx) {
      ABL_CHECK(!__builtin_mul_overflow(n_elements, ne[dim_idx], &n_elements), FormatError,
                "{}: {}: element count overflows int64 (ne = [{}, {}, {}, {}])", file, place, ne[0], ne[1], ne[2],
                ne[3]);
    }
    // Bytes of one row (ne[0] / block_size blocks) may exceed int64 even when
    // the element count does not: an F32 row of 2^62 elements has 2^64 bytes.
    int64_t size_bytes = ne[0] / traits->block_size;
    for (uint32_t dim_idx = 0; dim_idx < kGgufMaxDims; ++dim_idx) {
      const int64_t factor = dim_idx == 0 ? traits->block_bytes : ne[dim_idx];
      ABL_CHECK(!__builtin_mul_overflow(size_bytes, factor, &size_bytes), FormatError,
                "{}: {}: byte size overflows int64 (ne = [{}, {}, {}, {}], type {})", file, place, ne[0], ne[1], ne[2],
                ne[3], traits->name);
    }
    info.size_bytes = static_cast<uint64_t>(size_bytes);
    ABL_CHECK(info.offset % alignment_ == 0, FormatError,
              "{}: {}: data offset {} is not a multiple of the alignment {}", file, place, with_commas(info.offset),
              alignment_);
    info.shape.assign(ne.rbegin() + (kGgufMaxDims - n_dims), ne.rend());
    tensors_.push_back(std::move(info));
  }

  // ---- data section: every tensor inside the file, none overlapping ----
  data_offset_ = cursor.pos() + (alignment_ - cursor.pos() % alignment_) % alignment_;
  if (tensors_.empty()) return;
  ABL_CHECK(data_offset_ <= file_size, FormatError,
            "{}: tensor data should start at byte {} but the file has {} bytes; the file is truncated or corrupt", file,
            with_commas(data_offset_), with_commas(file_size));
  const uint64_t data_bytes = file_size - data_offset_;
  for (const GgufTensorInfo& info : tensors_) {
    if (info.size_bytes <= data_bytes && info.offset <= data_bytes - info.size_bytes) continue;
    uint64_t end = 0;
    const bool overflows =
        __builtin_add_overflow(data_offset_, info.offset, &end) || __builtin_add_overflow(end, info.size_bytes, &end);
    throw FormatError(fmt::format(
        "{}: tensor '{}': data ends at byte {} but the file has {} bytes; the file is truncated or corrupt", file,
        info.name, overflows ? std::string("beyond 2^64") : with_commas(end), with_commas(file_size)));
  }
  std::vector<size_t> by_offset(tensors_.size());
  std::iota(by_offset.begin(), by_offset.end(), size_t{0});
  std::sort(by_offset.begin(), by_offset.end(),
            [&](size_t a, size_t b) { return tensors_[a].offset < tensors_[b].offset; });
  for (size_t rank = 1; rank < by_offset.size(); ++rank) {
    const GgufTensorInfo& prev = tensors_[by_offset[rank - 1]];
    const GgufTensorInfo& next = tensors_[by_offset[rank]];
    ABL_CHECK(prev.offset + prev.size_bytes <= next.offset, FormatError,
              "{}: tensor '{}': data at offset {} overlaps tensor '{}' (offsets {} to {})", file, next.name,
              with_commas(next.offset), prev.name, with_commas(prev.offset),
              with_commas(prev.offset + prev.size_bytes));
  }
}

// ---- metadata getters ---------------------------------------------------------

const GgufKeyInfo* GgufFile::find_key(const std::string& key) const {
  const auto it = key_index_.find(key);
  return it == key_index_.end() ? nullptr : &keys_[it->second];
}

const GgufKeyInfo* GgufFile::typed_key(const std::string& key, std::span<const GgufValueType> accepted,
                                         const char* expected) const {
  const GgufKeyInfo* info = find_key(key);
  if (info == nullptr) return nullptr;
  const bool ok = std::find(accepted.begin(), accepted.end(), info->type) != accepted.end();
  ABL_CHECK(ok, FormatError, "{}: key '{}': expected {}, got {}", path_.string(), key, expected, to_string(info->type));
  return info;
}

const GgufKeyInfo& GgufFile::required_key(const GgufKeyInfo* info, const std::string& key) const {
  ABL_CHECK(info != nullptr, FormatError, "{}: key '{}' is missing", path_.string(), key);
  return *info;
}

std::optional<int64_t> GgufFile::find_int(const std::string& key) const {
  const GgufKeyInfo* info = typed_key(key, kIntegerTypes, kIntegerExpected);
  if (info == nullptr) return std::nullopt;
  bool fits = false;
  const int64_t value = load_integer(info->type, mapping_->data + info->value_offset, &fits);
  ABL_CHECK(fits, FormatError, "{}: key '{}': u64 value {} does not fit in int64", path_.string(), key,
            load<uint64_t>(mapping_->data + info->value_offset));
  return value;
}

int64_t GgufFile::get_int(const std::string& key) const {
  const std::optional<int64_t> value = find_int(key);
  required_key(value ? find_key(key) : nullptr, key);
  return *value;
}

std::optional<double> GgufFile::find_float(const std::string& key) const {
  const GgufKeyInfo* info = typed_key(key, kFloatTypes, kFloatExpected);
  if (info == nullptr) return std::nullopt;
  const uint8_t* p = mapping_->data + info->value_offset;
  return info->type == GgufValueType::f32 ? static_cast<double>(load<float>(p)) : load<double>(p);
}

double GgufFile::get_float(const std::string& key) const {
  const std::optional<double> value = find_float(key);
  required_key(value ? find_key(key) : nullptr, key);
  return *value;
}

std::optional<bool> GgufFile::find_bool(const std::string& key) const {
  const GgufKeyInfo* info = typed_key(key, kBoolTypes, "bool");
  if (info == nullptr) return std::nullopt;
  const uint8_t byte = mapping_->data[info->value_offset];
  ABL_CHECK(byte <= 1, FormatError, "{}: key '{}': expected a bool of 0 or 1, got {}", path_.string(), key, byte);
  return byte == 1;
}

bool GgufFile::get_bool(const std::string& key) const {
  const std::optional<bool> value = find_bool(key);
  required_key(value ? find_key(key) : nullptr, key);
  return *value;
}

std::optional<std::string> GgufFile::find_string(const std::string& key) const {
  const GgufKeyInfo* info = typed_key(key, kStringTypes, "string");
  if (info == nullptr) return std::nullopt;
  return std::string(load_string(mapping_->data + info->value_offset));
}

std::string GgufFile::get_string(const std::string& key) const {
  std::optional<std::string> value = find_string(key);
  required_key(value ? find_key(key) : nullptr, key);
  return std::move(*value);
}

namespace {

// Checks that `info` is an array whose elements are one of `accepted`.
void check_array_type(const std::string& file, const GgufKeyInfo& info, std::span<const GgufValueType> accepted,
                      const char* expected) {
  const bool ok = info.type == GgufValueType::array &&
                  std::find(accepted.begin(), accepted.end(), info.array_type) != accepted.end();
  if (ok) return;
  const std::string got = info.type == GgufValueType::array ? fmt::format("array of {}", to_string(info.array_type))
                                                            : std::string(to_string(info.type));
  throw FormatError(fmt::format("{}: key '{}': expected array of {}, got {}", file, info.key, expected, got));
}

}  // namespace

std::optional<std::vector<std::string>> GgufFile::find_string_array(const std::string& key) const {
  const GgufKeyInfo* info = find_key(key);
  if (info == nullptr) return std::nullopt;
  check_array_type(path_.string(), *info, kStringTypes, "string");
  std::vector<std::string> values;
  values.reserve(info->array_count);
  const uint8_t* p = mapping_->data + info->value_offset;
  for (uint64_t idx = 0; idx < info->array_count; ++idx) {
    const std::string_view text = load_string(p);
    values.emplace_back(text);
    p += 8 + text.size();
  }
  return values;
}

std::vector<std::string> GgufFile::get_string_array(const std::string& key) const {
  std::optional<std::vector<std::string>> values = find_string_array(key);
  required_key(values ? find_key(key) : nullptr, key);
  return std::move(*values);
}

std::optional<std::vector<float>> GgufFile::find_float_array(const std::string& key) const {
  const GgufKeyInfo* info = find_key(key);
  if (info == nullptr) return std::nullopt;
  check_array_type(path_.string(), *info, kFloatTypes, kFloatExpected);
  std::vector<float> values(info->array_count);
  const uint8_t* p = mapping_->data + info->value_offset;
  for (uint64_t idx = 0; idx < info->array_count; ++idx) {
    values[idx] = info->array_type == GgufValueType::f32 ? load<float>(p + 4 * idx)
                                                         : static_cast<float>(load<double>(p + 8 * idx));
  }
  return values;
}

std::vector<float> GgufFile::get_float_array(const std::string& key) const {
  std::optional<std::vector<float>> values = find_float_array(key);
  required_key(values ? find_key(key) : nullptr, key);
  return std::move(*values);
}

std::optional<std::vector<int64_t>> GgufFile::find_int_array(const std::string& key) const {
  const GgufKeyInfo* info = find_key(key);
  if (info == nullptr) return std::nullopt;
  check_array_type(path_.string(), *info, kIntegerTypes, kIntegerExpected);
  std::vector<int64_t> values(info->array_count);
  const uint64_t size = scalar_size_bytes(info->array_type);
  const uint8_t* p = mapping_->data + info->value_offset;
  for (uint64_t idx = 0; idx < info->array_count; ++idx) {
    bool fits = false;
    values[idx] = load_integer(info->array_type, p + size * idx, &fits);
    ABL_CHECK(fits, FormatError, "{}: key '{}': element {} does not fit in int64", path_.string(), key, idx);
  }
  return values;
}

std::vector<int64_t> GgufFile::get_int_array(const std::string& key) const {
  std::optional<std::vector<int64_t>> values = find_int_array(key);
  required_key(values ? find_key(key) : nullptr, key);
  return std::move(*values);
}

// ---- tensors --------------------------------------------------------------------

const GgufTensorInfo* GgufFile::find_tensor(const std::string& name) const {
  const auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const GgufTensorInfo& GgufFile::tensor_info(const std::string& name) const {
  const GgufTensorInfo* info = find_tensor(name);
  ABL_CHECK(info != nullptr, FormatError, "{}: no tensor '{}'", path_.string(), name);
  return *info;
}

std::span<const uint8_t> GgufFile::tensor_bytes(const GgufTensorInfo& info) const {
  return {mapping_->data + data_offset_ + info.offset, info.size_bytes};
}


}  // namespace abliterate::model
