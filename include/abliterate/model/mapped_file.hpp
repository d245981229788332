// A read-only private memory mapping of a whole file, unmapped on
// destruction. The model readers (safetensors, GGUF) parse straight from it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>

namespace abliterate::model {

struct MappedFile {
  const uint8_t* data = nullptr;  // nullptr for an empty file
  uint64_t size_bytes = 0;

  // Maps the whole of `path` read-only. Throws IoError naming the path.
  static std::unique_ptr<MappedFile> map(const std::filesystem::path& path);

  MappedFile() = default;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();
};

}  // namespace abliterate::model
