// parse_safetensors_header: see include/abliterate/formats/safetensors_header.hpp
// and spec/model-runtime.md §4. Checks follow ggml's gguf.cpp habit: validate
// every count, offset and size before anything is read from the buffer.
#include "abliterate/formats/safetensors_header.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "abliterate/common/error.hpp"

namespace abliterate::formats {

// safetensors is little-endian on disk; we copy bytes straight into tensors.
static_assert(std::endian::native == std::endian::little, "safetensors reading assumes a little-endian host");

const char* to_string(SafetensorsDtype dtype) {
  switch (dtype) {
    case SafetensorsDtype::f32: return "F32";
    case SafetensorsDtype::f16: return "F16";
    case SafetensorsDtype::bf16: return "BF16";
  }
  return "?";
}

int64_t item_size_bytes(SafetensorsDtype dtype) {
  switch (dtype) {
    case SafetensorsDtype::f32: return 4;
    case SafetensorsDtype::f16: return 2;
    case SafetensorsDtype::bf16: return 2;
  }
  return 0;
}

namespace {

using nlohmann::json;

std::optional<SafetensorsDtype> parse_dtype(const std::string& text) {
  if (text == "F32") return SafetensorsDtype::f32;
  if (text == "F16") return SafetensorsDtype::f16;
  if (text == "BF16") return SafetensorsDtype::bf16;
  return std::nullopt;
}

// One header entry, checked against the buffer size. `where` is "file: tensor 'name'".
SafetensorsTensorInfo parse_entry(const std::string& where, const std::string& name, const json& entry,
                                  uint64_t buffer_size) {
  ABL_CHECK(entry.is_object(), FormatError, "{}: expected an object with dtype, shape and data_offsets, got {}",
            where, entry.type_name());
  SafetensorsTensorInfo info;
  info.name = name;

  const auto dtype_it = entry.find("dtype");
  ABL_CHECK(dtype_it != entry.end() && dtype_it->is_string(), FormatError, "{}: missing string field 'dtype'", where);
  const auto dtype = parse_dtype(dtype_it->get<std::string>());
  ABL_CHECK(dtype.has_value(), FormatError, "{}: dtype '{}' is not supported (expected F32, F16 or BF16)", where,
            dtype_it->get<std::string>());
  info.dtype = *dtype;

  const auto shape_it = entry.find("shape");
  ABL_CHECK(shape_it != entry.end() && shape_it->is_array(), FormatError, "{}: missing array field 'shape'", where);
  uint64_t numel = 1;
  for (const auto& dim : *shape_it) {
    ABL_CHECK(dim.is_number_unsigned() || (dim.is_number_integer() && dim.get<int64_t>() >= 0), FormatError,
              "{}: shape {}: expected non-negative integers", where, shape_it->dump());
    const uint64_t extent = dim.get<uint64_t>();
    ABL_CHECK(extent <= static_cast<uint64_t>(INT64_MAX) && !__builtin_mul_overflow(numel, extent, &numel),
              FormatError, "{}: shape {} overflows the element count", where, shape_it->dump());
    info.shape.push_back(static_cast<int64_t>(extent));
  }
  uint64_t expected_bytes = 0;
  ABL_CHECK(!__builtin_mul_overflow(numel, static_cast<uint64_t>(item_size_bytes(info.dtype)), &expected_bytes),
            FormatError, "{}: shape {} overflows the byte count", where, shape_it->dump());

  const auto offsets_it = entry.find("data_offsets");
  ABL_CHECK(offsets_it != entry.end() && offsets_it->is_array() && offsets_it->size() == 2 &&
                (*offsets_it)[0].is_number_unsigned() && (*offsets_it)[1].is_number_unsigned(),
            FormatError, "{}: expected 'data_offsets' to be two non-negative integers [begin, end]", where);
  info.data_begin = (*offsets_it)[0].get<uint64_t>();
  info.data_end = (*offsets_it)[1].get<uint64_t>();
  ABL_CHECK(info.data_begin <= info.data_end, FormatError, "{}: data_offsets [{}, {}]: begin is after end", where,
            info.data_begin, info.data_end);
  ABL_CHECK(info.data_end <= buffer_size, FormatError,
            "{}: data ends at byte {} of the buffer but the buffer has {} bytes; the file is truncated or corrupt",
            where, info.data_end, buffer_size);
  ABL_CHECK(info.data_end - info.data_begin == expected_bytes, FormatError,
            "{}: data_offsets [{}, {}] span {} bytes, expected {} ({} elements of {} x {} bytes)", where,
            info.data_begin, info.data_end, info.data_end - info.data_begin, expected_bytes, numel,
            to_string(info.dtype), item_size_bytes(info.dtype));
  return info;
}

}  // namespace

SafetensorsHeader parse_safetensors_header(const std::string& file, const uint8_t* data, uint64_t file_size) {
  SafetensorsHeader result;

  ABL_CHECK(file_size >= 8, FormatError,
            "{}: the file has {} bytes, too short for the 8-byte header length; the file is truncated or not "
            "safetensors",
            file, file_size);
  uint64_t header_size = 0;
  std::memcpy(&header_size, data, sizeof(header_size));
  ABL_CHECK(header_size <= kSafetensorsMaxHeaderBytes, FormatError,
            "{}: header length {} exceeds the limit of {} bytes; the file is corrupt or not safetensors", file,
            header_size, kSafetensorsMaxHeaderBytes);
  ABL_CHECK(header_size <= file_size - 8, FormatError,
            "{}: header length {} runs past the end of the file ({} bytes); the file is truncated or corrupt", file,
            header_size, file_size);
  result.buffer_offset = 8 + header_size;
  const uint64_t buffer_size = file_size - result.buffer_offset;

  // Duplicate top-level names are invalid, but nlohmann keeps the last one
  // silently; the parser callback sees every key.
  std::set<std::string> seen_names;
  std::string duplicate_name;
  const json::parser_callback_t on_event = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::key && depth == 1) {
      const auto key = parsed.get<std::string>();
      if (!seen_names.insert(key).second && duplicate_name.empty()) duplicate_name = key;
    }
    return true;
  };
  json header;
  const char* header_begin = reinterpret_cast<const char*>(data + 8);
  try {
    header = json::parse(header_begin, header_begin + header_size, on_event);
  } catch (const json::exception& e) {
    throw FormatError(fmt::format("{}: header is not valid JSON: {}", file, e.what()));
  }
  ABL_CHECK(header.is_object(), FormatError, "{}: header must be a JSON object, got {}", file, header.type_name());
  ABL_CHECK(duplicate_name.empty(), FormatError, "{}: tensor '{}' appears twice in the header", file, duplicate_name);

  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      ABL_CHECK(entry.is_object(), FormatError, "{}: __metadata__ must be an object of strings", file);
      for (const auto& [key, value] : entry.items()) {
        ABL_CHECK(value.is_string(), FormatError, "{}: __metadata__ key '{}': expected a string, got {}", file, key,
                  value.type_name());
        result.metadata[key] = value.get<std::string>();
      }
      continue;
    }
    result.tensors.push_back(parse_entry(fmt::format("{}: tensor '{}'", file, name), name, entry, buffer_size));
  }

  // The buffer must be covered exactly: no holes, no overlaps (as the reference reader demands).
  std::stable_sort(result.tensors.begin(), result.tensors.end(),
                   [](const auto& a, const auto& b) { return a.data_begin < b.data_begin; });
  uint64_t covered_until = 0;
  for (const auto& info : result.tensors) {
    ABL_CHECK(info.data_begin == covered_until, FormatError,
              "{}: tensor '{}': data starts at byte {} but the previous tensor ends at byte {}; tensors must cover "
              "the buffer without holes or overlaps",
              file, info.name, info.data_begin, covered_until);
    covered_until = info.data_end;
  }
  ABL_CHECK(covered_until == buffer_size, FormatError,
            "{}: tensors cover {} bytes but the buffer after the header has {} bytes; the file is corrupt", file,
            covered_until, buffer_size);

  return result;
}

}  // namespace abliterate::formats
