// Writes GGUF v3 files (spec/model-runtime.md §5.1): header, metadata entries
// copied byte for byte from a source GGUF (with some replaced), tensor infos,
// then each tensor's data, aligned. For `abliterate export --gguf`: the
// ablated model in F32, F16, BF16 or Q8_0, read back by GgufFile and gguf-py.
//
// The tensor data streams in: infos are written first from the planned sizes,
// then write_tensor() is called once per tensor in the planned order, so a
// model never sits in memory whole.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "abliterate/formats/ggml_types.hpp"
#include "abliterate/formats/gguf_file.hpp"

namespace abliterate::formats {

struct GgufTensorPlan {
  std::string name;
  std::vector<int64_t> shape;  // PyTorch order (the file's ne[] reversed)
  GgmlType type = GgmlType::f32;
};

// Q8_0 blocks of `values` (a multiple of 32), as ggml's quantize_row_q8_0_ref:
// per 32 values d = max|x| / 127 as f16, then round(x / d) as int8.
std::vector<uint8_t> quantize_q8_0(std::span<const float> values);

class GgufWriter {
 public:
  // Opens `path` for writing and writes the header, the metadata (every entry
  // of `source` but those named in `u32_overrides`, then those as u32
  // entries) and the tensor infos with their offsets. Throws IoError naming
  // the file when it cannot be written, InputError for a shape of more than
  // four dimensions or a row that is not a whole number of the type's blocks.
  GgufWriter(const std::filesystem::path& path, const GgufFile& source,
             const std::vector<std::pair<std::string, uint32_t>>& u32_overrides, std::vector<GgufTensorPlan> tensors);
  GgufWriter(const GgufWriter&) = delete;
  GgufWriter& operator=(const GgufWriter&) = delete;
  ~GgufWriter();

  // The next planned tensor's data, exactly its planned size.
  void write_tensor(std::span<const uint8_t> bytes);
  // Checks that every tensor was written and closes the file (IoError on a failed write).
  void finish();

 private:
  void write_bytes(const void* data, size_t size);
  void pad_to_alignment();

  std::filesystem::path path_;
  std::FILE* file_ = nullptr;
  uint64_t alignment_ = kGgufDefaultAlignment;
  uint64_t written_ = 0;
  std::vector<GgufTensorPlan> tensors_;
  std::vector<uint64_t> sizes_;
  size_t next_tensor_ = 0;
};

}  // namespace abliterate::formats
