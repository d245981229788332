// GgufReader: see include/abliterate/formats/gguf_reader.hpp and
// spec/model-runtime.md §5.3. The parsing and checks live in gguf_file.cpp.
#include "abliterate/formats/gguf_reader.hpp"

#include <span>

#include "abliterate/common/error.hpp"
#include "abliterate/formats/ggml_types.hpp"

namespace abliterate::formats {

GgufReader GgufReader::open(const std::filesystem::path& path) { return GgufReader(GgufFile::open(path)); }

GgufReader GgufReader::open(const std::filesystem::path& path, std::unique_ptr<MappedFile> contents) {
  return GgufReader(GgufFile::open(path, std::move(contents)));
}

torch::Tensor GgufReader::load_tensor(const std::string& name, torch::Dtype out) const {
  const GgufTensorInfo& info = tensor_info(name);
  torch::Tensor values = torch::empty(info.shape, torch::kFloat32);  // float32 [shape]
  with_context(fmt::format("{}: tensor '{}'", path().string(), name), [&] {
    dequantize(info.type, tensor_bytes(info),
               std::span<float>(values.data_ptr<float>(), static_cast<size_t>(values.numel())));
  });
  return out == torch::kFloat32 ? values : values.to(out);
}

}  // namespace abliterate::formats
