// Reads HF safetensors files (spec/model-runtime.md §4): an 8-byte header
// length, a JSON header, then one byte buffer. Everything in the header is
// checked before any tensor is read; each error names the file and, where there
// is one, the tensor.
//
// A reader owns a read-only memory mapping of its file for its lifetime.
// Immutable after open(); safe to share between threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "abliterate/formats/mapped_file.hpp"
#include "abliterate/formats/safetensors_header.hpp"

namespace abliterate::formats {

torch::Dtype to_torch_dtype(SafetensorsDtype dtype);

class SafetensorsReader {
 public:
  // Maps `path` and validates its header: header length inside the file and
  // under kSafetensorsMaxHeaderBytes, valid JSON object, no duplicate names,
  // known dtype, non-negative shape, offsets inside the buffer with
  // end - begin == numel * itemsize, and the tensors covering the buffer with
  // no hole or overlap. Throws IoError (cannot open/map) or FormatError.
  static SafetensorsReader open(const std::filesystem::path& path);
  // The same checks on `contents` (MappedFile::map or copy_of); `path` only names it in errors.
  static SafetensorsReader open(const std::filesystem::path& path, std::unique_ptr<MappedFile> contents);

  SafetensorsReader(SafetensorsReader&&) noexcept;
  SafetensorsReader& operator=(SafetensorsReader&&) noexcept;
  ~SafetensorsReader();

  const std::filesystem::path& path() const { return path_; }
  // Every tensor, ordered by data offset.
  const std::vector<SafetensorsTensorInfo>& tensors() const { return tensors_; }
  // The "__metadata__" object (HF writes {"format": "pt"}); empty when absent.
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // nullptr when the file has no tensor `name`.
  const SafetensorsTensorInfo* find(const std::string& name) const;

  // A CPU tensor of the file's dtype and shape that owns a copy of the bytes
  // (so the buffer's alignment never matters). Throws FormatError naming the
  // file and tensor when there is no such tensor.
  torch::Tensor read(const std::string& name) const;

 private:
  SafetensorsReader(std::filesystem::path path, std::unique_ptr<MappedFile> mapping);

  std::filesystem::path path_;
  std::unique_ptr<MappedFile> mapping_;
  uint64_t buffer_offset_ = 0;  // file offset of the byte buffer: 8 + header length
  std::vector<SafetensorsTensorInfo> tensors_;
  std::map<std::string, size_t> index_by_name_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace abliterate::formats
