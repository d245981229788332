// GgufFile's typed metadata reads: see include/abliterate/formats/gguf_file.hpp.
// open() has checked every value's bounds, so these only check types.
#include <algorithm>
#include <array>
#include <string_view>

#include "abliterate/common/error.hpp"
#include "abliterate/formats/gguf_file.hpp"
#include "gguf_bytes.hpp"

namespace abliterate::formats {

using detail::load;
using detail::load_integer;
using detail::load_string;
using detail::scalar_size_bytes;

namespace {

constexpr std::array kIntegerTypes = {GgufValueType::u8,  GgufValueType::i8,  GgufValueType::u16, GgufValueType::i16,
                                      GgufValueType::u32, GgufValueType::i32, GgufValueType::u64, GgufValueType::i64};
constexpr std::array kFloatTypes = {GgufValueType::f32, GgufValueType::f64};
constexpr std::array kBoolTypes = {GgufValueType::boolean};
constexpr std::array kStringTypes = {GgufValueType::string};
constexpr const char* kIntegerExpected = "an integer (u8..u64, i8..i64)";
constexpr const char* kFloatExpected = "f32 or f64";

}  // namespace

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

}  // namespace abliterate::formats
