// write_safetensors: see include/abliterate/formats/safetensors_writer.hpp and
// spec/model-runtime.md §4.
#include "abliterate/formats/safetensors_writer.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "abliterate/common/error.hpp"

namespace abliterate::formats {

namespace {

const char* header_dtype(torch::Dtype dtype) {
  if (dtype == torch::kFloat32) return "F32";
  if (dtype == torch::kFloat16) return "F16";
  if (dtype == torch::kBFloat16) return "BF16";
  return nullptr;
}

}  // namespace

void write_safetensors(const std::filesystem::path& path, const std::vector<NamedTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  const std::string file = path.string();
  std::vector<torch::Tensor> contiguous;  // CPU, row-major copies in write order
  contiguous.reserve(tensors.size());
  // nlohmann's json sorts keys, so the header bytes do not depend on insertion order.
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    ABL_CHECK(name != "__metadata__" && names.insert(name).second, InputError,
              "{}: tensor '{}': duplicate or reserved name", file, name);
    const char* dtype = header_dtype(tensor.scalar_type());
    ABL_CHECK(dtype != nullptr, InputError, "{}: tensor '{}': dtype {} cannot be written (expected float32, float16 "
              "or bfloat16)", file, name, c10::toString(tensor.scalar_type()));
    torch::Tensor cpu = tensor.detach().to(torch::kCPU).contiguous();
    const uint64_t n_bytes = static_cast<uint64_t>(cpu.nbytes());
    header[name] = {{"dtype", dtype}, {"shape", cpu.sizes().vec()}, {"data_offsets", {offset, offset + n_bytes}}};
    offset += n_bytes;
    contiguous.push_back(std::move(cpu));
  }
  std::string header_text = header.dump();
  // Pad with spaces so the byte buffer starts 8-aligned (the Rust writer's convention).
  header_text.append((8 - header_text.size() % 8) % 8, ' ');
  const uint64_t header_size = header_text.size();

  std::filesystem::path temp_path = path;
  temp_path += ".tmp";
  {
    std::ofstream out(temp_path, std::ios::binary | std::ios::trunc);
    ABL_CHECK(out.good(), IoError, "{}: cannot open for writing", temp_path.string());
    char size_bytes[8];
    std::memcpy(size_bytes, &header_size, sizeof(size_bytes));  // little-endian host (see safetensors_reader.cpp)
    out.write(size_bytes, sizeof(size_bytes));
    out.write(header_text.data(), static_cast<std::streamsize>(header_text.size()));
    for (const auto& tensor : contiguous) {
      out.write(static_cast<const char*>(tensor.data_ptr()), static_cast<std::streamsize>(tensor.nbytes()));
    }
    out.flush();
    if (!out.good()) {
      const int error = errno;  // ENOSPC, EFBIG (RLIMIT_FSIZE), EIO: what the last write met
      out.close();
      std::error_code ignored;
      std::filesystem::remove(temp_path, ignored);
      throw IoError(fmt::format("{}: write failed: {} (is the disk full?)", file, std::strerror(error)));
    }
  }
  std::error_code ec;
  std::filesystem::rename(temp_path, path, ec);
  ABL_CHECK(!ec, IoError, "{}: cannot rename {} into place: {}", file, temp_path.string(), ec.message());
}

}  // namespace abliterate::formats
