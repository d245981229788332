// libFuzzer target: parse_safetensors_header on arbitrary bytes (the part of
// SafetensorsReader below LibTorch; read() is a bounds-checked memcpy of what
// the header accepted). Every input must be accepted or refused with an
// abliterate::Error; any other exception, crash or sanitizer report is a bug.
// libFuzzer's input is a heap block of exactly `size` bytes, so
// AddressSanitizer catches any read past its end.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>

#include "abliterate/common/error.hpp"
#include "abliterate/formats/safetensors_header.hpp"

namespace formats = abliterate::formats;
using abliterate::formats::parse_safetensors_header;
using abliterate::formats::SafetensorsHeader;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const formats::SafetensorsHeader header =
        formats::parse_safetensors_header("fuzz.safetensors", size ? data : nullptr, size);
    // What the reader relies on: every tensor's bytes inside the file, sized
    // numel * itemsize, names unique, the buffer covered exactly.
    std::set<std::string> names;
    uint64_t covered = header.buffer_offset;
    volatile uint8_t sink = 0;
    for (const auto& info : header.tensors) {
      if (!names.insert(info.name).second) __builtin_trap();
      uint64_t numel = 1;
      for (const int64_t extent : info.shape) numel *= static_cast<uint64_t>(extent);
      if (numel * static_cast<uint64_t>(formats::item_size_bytes(info.dtype)) !=
          info.data_end - info.data_begin) {
        __builtin_trap();
      }
      if (header.buffer_offset + info.data_begin != covered) __builtin_trap();
      covered = header.buffer_offset + info.data_end;
      if (info.data_end > info.data_begin) {
        sink = data[header.buffer_offset + info.data_begin] ^ data[header.buffer_offset + info.data_end - 1];
      }
    }
    (void)sink;
    if (covered != size) __builtin_trap();
  } catch (const abliterate::Error&) {
    // A refused file: the expected outcome for most inputs.
  }
  return 0;
}
