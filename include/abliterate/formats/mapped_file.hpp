// Module formats: model files: mapped files, safetensors, GGUF and ggml types, JSON, HF folder names.
// Must not know: tokenizers, templates or the decoder: tensors come out as torch tensors.
//
// A read-only private memory mapping of a whole file, unmapped on
// destruction. The model readers (safetensors, GGUF) parse straight from it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>

namespace abliterate::formats {

struct MappedFile {
  const uint8_t* data = nullptr;  // nullptr for an empty file
  uint64_t size_bytes = 0;

  // Maps the whole of `path` read-only. Throws IoError naming the path.
  static std::unique_ptr<MappedFile> map(const std::filesystem::path& path);

  // A heap copy of `size_bytes` bytes standing in for a mapped file, so the
  // readers can parse from memory (fuzz targets: AddressSanitizer sees any
  // read past the end of a heap block, not past the end of a mapped page).
  static std::unique_ptr<MappedFile> copy_of(const uint8_t* bytes, uint64_t size_bytes);

  MappedFile() = default;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

 private:
  std::unique_ptr<uint8_t[]> heap_copy_;  // set by copy_of(); then `data` points into it and nothing is unmapped
};

}  // namespace abliterate::formats
