// Writes HF safetensors files (spec/model-runtime.md §4), the format
// SafetensorsReader reads. Used by the tiny test model and, later, export.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace abliterate::formats {

struct NamedTensor {
  std::string name;
  torch::Tensor tensor;  // float32, float16 or bfloat16, any device; written row-major
};

// Writes `tensors` in the given order (data offsets follow that order) with
// `metadata` as "__metadata__". The header is space-padded to a multiple of 8
// so the buffer starts 8-aligned, as the Rust writer does. Same input -> same
// bytes. The file is written beside `path` and renamed into place, so a crash
// never leaves a half-written file. Throws InputError on a duplicate name or an
// unsupported dtype, IoError when the file cannot be written.
void write_safetensors(const std::filesystem::path& path, const std::vector<NamedTensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

}  // namespace abliterate::formats
