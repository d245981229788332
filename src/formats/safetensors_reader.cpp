// SafetensorsReader: see include/abliterate/formats/safetensors_reader.hpp and
// spec/model-runtime.md §4. The header is parsed and checked by
// parse_safetensors_header (safetensors_header.cpp) before any tensor is read.
#include "abliterate/formats/safetensors_reader.hpp"

#include <bit>
#include <cstring>

#include "abliterate/common/error.hpp"

namespace abliterate::formats {

// safetensors is little-endian on disk; we copy bytes straight into tensors.
static_assert(std::endian::native == std::endian::little, "safetensors reading assumes a little-endian host");

torch::Dtype to_torch_dtype(SafetensorsDtype dtype) {
  switch (dtype) {
    case SafetensorsDtype::f32: return torch::kFloat32;
    case SafetensorsDtype::f16: return torch::kFloat16;
    case SafetensorsDtype::bf16: return torch::kBFloat16;
  }
  return torch::kFloat32;
}

SafetensorsReader::SafetensorsReader(std::filesystem::path path, std::unique_ptr<MappedFile> mapping)
    : path_(std::move(path)), mapping_(std::move(mapping)) {}
SafetensorsReader::SafetensorsReader(SafetensorsReader&&) noexcept = default;
SafetensorsReader& SafetensorsReader::operator=(SafetensorsReader&&) noexcept = default;
SafetensorsReader::~SafetensorsReader() = default;

SafetensorsReader SafetensorsReader::open(const std::filesystem::path& path) {
  return open(path, MappedFile::map(path));
}

SafetensorsReader SafetensorsReader::open(const std::filesystem::path& path, std::unique_ptr<MappedFile> contents) {
  SafetensorsReader reader(path, std::move(contents));
  SafetensorsHeader header =
      parse_safetensors_header(path.string(), reader.mapping_->data, reader.mapping_->size_bytes);
  reader.buffer_offset_ = header.buffer_offset;
  reader.tensors_ = std::move(header.tensors);
  reader.metadata_ = std::move(header.metadata);
  for (size_t i = 0; i < reader.tensors_.size(); ++i) reader.index_by_name_[reader.tensors_[i].name] = i;
  return reader;
}

const SafetensorsTensorInfo* SafetensorsReader::find(const std::string& name) const {
  const auto it = index_by_name_.find(name);
  return it == index_by_name_.end() ? nullptr : &tensors_[it->second];
}

torch::Tensor SafetensorsReader::read(const std::string& name) const {
  const SafetensorsTensorInfo* info = find(name);
  ABL_CHECK(info != nullptr, FormatError, "{}: tensor '{}' not found", path_.string(), name);
  torch::Tensor tensor = torch::empty(info->shape, torch::TensorOptions().dtype(to_torch_dtype(info->dtype)));
  const uint64_t n_bytes = info->data_end - info->data_begin;
  ABL_ASSERT(static_cast<uint64_t>(tensor.nbytes()) == n_bytes, "tensor '{}' size", name);
  if (n_bytes > 0) std::memcpy(tensor.data_ptr(), mapping_->data + buffer_offset_ + info->data_begin, n_bytes);
  return tensor;
}

}  // namespace abliterate::formats
