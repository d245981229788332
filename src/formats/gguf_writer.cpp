#include "abliterate/formats/gguf_writer.hpp"

#include <c10/util/Half.h>
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <set>

#include "abliterate/common/error.hpp"

namespace abliterate::formats {
namespace {

constexpr char kMagic[4] = {'G', 'G', 'U', 'F'};
constexpr uint32_t kVersion = 3;
constexpr int64_t kQ8Block = 32;

uint64_t tensor_bytes_of(const GgufTensorPlan& plan) {
  const GgmlTypeTraits& traits = ggml_type_traits(plan.type);
  ABL_CHECK(!plan.shape.empty() && plan.shape.size() <= kGgufMaxDims, InputError,
            "GGUF tensor '{}': expected 1 to {} dimensions, got {}", plan.name, kGgufMaxDims, plan.shape.size());
  const int64_t row = plan.shape.back();
  ABL_CHECK(row % traits.block_size == 0, InputError, "GGUF tensor '{}': rows of {} values are not whole {} blocks of {}",
            plan.name, row, traits.name, traits.block_size);
  uint64_t bytes = static_cast<uint64_t>(row / traits.block_size * traits.block_bytes);
  for (size_t i = 0; i + 1 < plan.shape.size(); ++i) bytes *= static_cast<uint64_t>(plan.shape[i]);
  return bytes;
}

uint64_t aligned(uint64_t offset, uint64_t alignment) { return (offset + alignment - 1) / alignment * alignment; }

}  // namespace

std::vector<uint8_t> quantize_q8_0(std::span<const float> values) {
  ABL_CHECK(values.size() % kQ8Block == 0, InputError, "Q8_0: {} values are not whole blocks of 32", values.size());
  std::vector<uint8_t> out;
  out.reserve(values.size() / kQ8Block * 34);
  for (size_t block = 0; block < values.size(); block += kQ8Block) {
    float amax = 0;
    for (int64_t j = 0; j < kQ8Block; ++j) amax = std::max(amax, std::fabs(values[block + j]));
    const float d = amax / 127.0f;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    const uint16_t d_half = c10::detail::fp16_ieee_from_fp32_value(d);  // GGML_FP32_TO_FP16: nearest even
    out.push_back(static_cast<uint8_t>(d_half & 0xFF));
    out.push_back(static_cast<uint8_t>(d_half >> 8));
    for (int64_t j = 0; j < kQ8Block; ++j) {
      out.push_back(static_cast<uint8_t>(static_cast<int8_t>(std::nearbyint(values[block + j] * id))));
    }
  }
  return out;
}

GgufWriter::GgufWriter(const std::filesystem::path& path, const GgufFile& source,
                       const std::vector<std::pair<std::string, uint32_t>>& u32_overrides,
                       std::vector<GgufTensorPlan> tensors)
    : path_(path), alignment_(source.alignment()), tensors_(std::move(tensors)) {
  for (const GgufTensorPlan& plan : tensors_) sizes_.push_back(tensor_bytes_of(plan));
  file_ = std::fopen(path.c_str(), "wb");
  ABL_CHECK(file_ != nullptr, IoError, "{}: cannot write: {}", path.string(), std::strerror(errno));

  std::set<std::string> replaced;
  for (const auto& [key, value] : u32_overrides) replaced.insert(key);
  uint64_t n_keys = u32_overrides.size();
  for (const GgufKeyInfo& info : source.keys()) n_keys += replaced.count(info.key) == 0 ? 1 : 0;
  write_bytes(kMagic, sizeof(kMagic));
  write_bytes(&kVersion, sizeof(kVersion));
  const uint64_t n_tensors = tensors_.size();
  write_bytes(&n_tensors, sizeof(n_tensors));
  write_bytes(&n_keys, sizeof(n_keys));
  for (const GgufKeyInfo& info : source.keys()) {
    if (replaced.count(info.key) != 0) continue;
    const std::span<const uint8_t> entry = source.entry_bytes(info);
    write_bytes(entry.data(), entry.size());
  }
  for (const auto& [key, value] : u32_overrides) {
    const uint64_t length = key.size();
    const uint32_t type = static_cast<uint32_t>(GgufValueType::u32);
    write_bytes(&length, sizeof(length));
    write_bytes(key.data(), key.size());
    write_bytes(&type, sizeof(type));
    write_bytes(&value, sizeof(value));
  }
  uint64_t offset = 0;
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const GgufTensorPlan& plan = tensors_[i];
    const uint64_t length = plan.name.size();
    const uint32_t n_dims = static_cast<uint32_t>(plan.shape.size());
    write_bytes(&length, sizeof(length));
    write_bytes(plan.name.data(), plan.name.size());
    write_bytes(&n_dims, sizeof(n_dims));
    for (auto it = plan.shape.rbegin(); it != plan.shape.rend(); ++it) {  // ne[0] is the innermost extent
      const uint64_t extent = static_cast<uint64_t>(*it);
      write_bytes(&extent, sizeof(extent));
    }
    const uint32_t type = static_cast<uint32_t>(plan.type);
    write_bytes(&type, sizeof(type));
    write_bytes(&offset, sizeof(offset));
    offset = aligned(offset + sizes_[i], alignment_);
  }
  pad_to_alignment();
}

GgufWriter::~GgufWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

void GgufWriter::write_tensor(std::span<const uint8_t> bytes) {
  ABL_CHECK(next_tensor_ < tensors_.size(), InputError, "{}: more tensors written than planned", path_.string());
  ABL_CHECK(bytes.size() == sizes_[next_tensor_], InputError, "{}: tensor '{}': {} bytes given, {} planned",
            path_.string(), tensors_[next_tensor_].name, bytes.size(), sizes_[next_tensor_]);
  write_bytes(bytes.data(), bytes.size());
  pad_to_alignment();
  ++next_tensor_;
}

void GgufWriter::finish() {
  ABL_CHECK(next_tensor_ == tensors_.size(), InputError, "{}: {} of {} tensors written", path_.string(), next_tensor_,
            tensors_.size());
  const int closed = std::fclose(file_);
  file_ = nullptr;
  ABL_CHECK(closed == 0, IoError, "{}: write failed: {}", path_.string(), std::strerror(errno));
}

void GgufWriter::write_bytes(const void* data, size_t size) {
  if (size == 0) return;
  ABL_CHECK(std::fwrite(data, 1, size, file_) == size, IoError, "{}: write failed: {} (is the disk full?)",
            path_.string(), std::strerror(errno));
  written_ += size;
}

void GgufWriter::pad_to_alignment() {
  static constexpr uint8_t kZeros[64] = {};
  uint64_t padding = aligned(written_, alignment_) - written_;
  while (padding > 0) {
    const uint64_t chunk = std::min<uint64_t>(padding, sizeof(kZeros));
    write_bytes(kZeros, chunk);
    padding -= chunk;
  }
}

}  // namespace abliterate::formats
