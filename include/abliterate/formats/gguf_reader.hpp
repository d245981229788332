// GgufReader: a GgufFile (gguf_file.hpp: header, metadata, tensor infos, all
// bounds-checked) that also loads tensors as torch tensors, dequantized
// (spec/model-runtime.md §5.1, §5.3). Immutable after open(); safe to share
// between threads.
#pragma once

#include <torch/torch.h>

#include <filesystem>
#include <memory>
#include <string>

#include "abliterate/formats/gguf_file.hpp"
#include "abliterate/formats/mapped_file.hpp"

namespace abliterate::formats {

class GgufReader : public GgufFile {
 public:
  // GgufFile::open's checks; throws IoError (cannot open/map) or FormatError
  // naming the file and key or tensor.
  static GgufReader open(const std::filesystem::path& path);
  // The same checks on `contents` (MappedFile::map or copy_of); `path` only names it in errors.
  static GgufReader open(const std::filesystem::path& path, std::unique_ptr<MappedFile> contents);

  // A CPU tensor of dtype `out` and the tensor's PyTorch shape that owns its
  // values: dequantized to float32 (spec §5.3), then cast. Throws FormatError
  // naming the file and tensor when there is no such tensor or its type
  // cannot be dequantized.
  torch::Tensor load_tensor(const std::string& name, torch::Dtype out = torch::kFloat32) const;

 private:
  explicit GgufReader(GgufFile file) : GgufFile(std::move(file)) {}
};

}  // namespace abliterate::formats
