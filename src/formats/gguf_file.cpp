// GgufFile: see include/abliterate/formats/gguf_file.hpp and
// spec/model-runtime.md §5.1. Checks follow ggml's gguf.cpp and
// llama-model-loader: every count, length and offset is validated against the
// bytes left in the file before anything is allocated for it. The typed
// metadata reads are in gguf_metadata.cpp.
#include "abliterate/formats/gguf_file.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <functional>
#include <limits>
#include <numeric>
#include <string_view>

#include "abliterate/common/error.hpp"
#include "gguf_bytes.hpp"

namespace abliterate::formats {

using detail::GgufCursor;
using detail::is_known_value_type;
using detail::load;
using detail::with_commas;

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

// The rest of one tensor info after its name (n_dims, extents, ggml type, data
// offset), checked: a known type, whole blocks per row, no int64 overflow in
// its element or byte count, an offset on the alignment.
void read_tensor_shape(GgufCursor& cursor, GgufTensorInfo& info, const std::string& file, const std::string& place,
                       uint64_t alignment) {
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
  // The product of the non-zero extents must fit: then every partial product
  // does too, in any order (numel() multiplies them reversed), even when a
  // zero extent makes the tensor empty.
  int64_t n_elements = 1;
  for (uint32_t dim_idx = 0; dim_idx < kGgufMaxDims; ++dim_idx) {
    if (ne[dim_idx] == 0) continue;
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
  ABL_CHECK(info.offset % alignment == 0, FormatError,
            "{}: {}: data offset {} is not a multiple of the alignment {}", file, place, with_commas(info.offset),
            alignment);
  info.shape.assign(ne.rbegin() + (kGgufMaxDims - n_dims), ne.rend());
}

}  // namespace

GgufFile GgufFile::open(const std::filesystem::path& path) { return open(path, MappedFile::map(path)); }

GgufFile GgufFile::open(const std::filesystem::path& path, std::unique_ptr<MappedFile> contents) {
  GgufFile reader(path, std::move(contents));
  reader.parse();
  return reader;
}

// The sections in file order (spec §5.1), each checked before the next is read.
void GgufFile::parse() {
  const std::string file = path_.string();  // the cursor keeps a reference for its messages
  GgufCursor cursor(mapping_->data, mapping_->size_bytes, file);
  const HeaderCounts counts = read_header(cursor);
  read_metadata(cursor, counts.n_keys);
  read_alignment();
  read_tensor_infos(cursor, counts.n_tensors);
  data_offset_ = cursor.pos() + (alignment_ - cursor.pos() % alignment_) % alignment_;
  check_tensor_data();
}

GgufFile::HeaderCounts GgufFile::read_header(GgufCursor& cursor) {
  const std::string file = path_.string();
  const uint8_t* data = mapping_->data;
  const uint64_t file_size = mapping_->size_bytes;
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
  return {n_tensors, n_keys};
}

void GgufFile::read_metadata(GgufCursor& cursor, uint64_t n_keys) {
  const std::string file = path_.string();
  keys_.reserve(n_keys);
  for (uint64_t key_idx = 0; key_idx < n_keys; ++key_idx) {
    const std::string key_place = fmt::format("metadata key #{}", key_idx);
    GgufKeyInfo info;
    info.entry_offset = cursor.pos();
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
      const GgufCursor::ArrayHeader header = cursor.read_array_header(place, 0);
      info.array_type = header.element_type;
      info.array_count = header.count;
      info.value_offset = cursor.pos();
      cursor.skip_elements(header, place, 0);
    } else {
      info.value_offset = cursor.pos();
      cursor.skip_value(info.type, place, 0);
    }
    info.entry_end = cursor.pos();
    keys_.push_back(std::move(info));
  }
}

void GgufFile::read_alignment() {
  const std::string file = path_.string();
  const uint8_t* data = mapping_->data;
  if (const GgufKeyInfo* info = find_key("general.alignment"); info != nullptr) {
    ABL_CHECK(info->type == GgufValueType::u32, FormatError, "{}: key 'general.alignment': expected u32, got {}", file,
              to_string(info->type));
    alignment_ = load<uint32_t>(data + info->value_offset);
    ABL_CHECK(alignment_ != 0 && std::has_single_bit(alignment_), FormatError,
              "{}: key 'general.alignment': expected a power of two, got {}", file, alignment_);
  }
}

void GgufFile::read_tensor_infos(GgufCursor& cursor, uint64_t n_tensors) {
  const std::string file = path_.string();
  tensors_.reserve(n_tensors);
  for (uint64_t tensor_idx = 0; tensor_idx < n_tensors; ++tensor_idx) {
    const std::string info_place = fmt::format("tensor info #{}", tensor_idx);
    GgufTensorInfo info;
    info.name = std::string(cursor.read_string(info_place, "name", kGgufMaxTensorNameBytes));
    const std::string place = fmt::format("tensor '{}'", info.name);
    const auto [it, inserted] = tensor_index_.emplace(info.name, tensors_.size());
    ABL_CHECK(inserted, FormatError, "{}: {}: duplicate tensor name (tensor infos #{} and #{})", file, place,
              it->second, tensor_idx);
    read_tensor_shape(cursor, info, file, place, alignment_);
    tensors_.push_back(std::move(info));
  }
}

// Every tensor's data inside the file, none overlapping.
void GgufFile::check_tensor_data() const {
  const std::string file = path_.string();
  const uint64_t file_size = mapping_->size_bytes;
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

std::span<const uint8_t> GgufFile::entry_bytes(const GgufKeyInfo& info) const {
  return {mapping_->data + info.entry_offset, info.entry_end - info.entry_offset};
}


}  // namespace abliterate::formats
