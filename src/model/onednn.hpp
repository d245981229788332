// What packed_linear.cpp and batched_matmul.cpp share of oneDNN: the CPU
// engine, a stream per thread, the dtypes oneDNN serves, and a primitive cache. Only compiled
// where ABL_HAVE_ONEDNN is defined (CMake option ABL_ONEDNN).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>
#include <torch/torch.h>

namespace abliterate::model::onednn {

inline dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// Streams are not shared between threads; a Decoder may serve several.
inline dnnl::stream& thread_stream() {
  thread_local dnnl::stream stream(cpu_engine());
  return stream;
}

inline std::optional<dnnl::memory::data_type> data_type_of(torch::ScalarType type) {
  switch (type) {
    case torch::kFloat32: return dnnl::memory::data_type::f32;
    case torch::kBFloat16: return dnnl::memory::data_type::bf16;
    case torch::kChar: return dnnl::memory::data_type::s8;   // the output head's int8 screen
    case torch::kInt: return dnnl::memory::data_type::s32;   // and its exact integer sums
    default: return std::nullopt;
  }
}

// Whether a primitive runs one of oneDNN's own kernels for this CPU rather
// than its reference kernel, which is far slower than LibTorch's product.
inline bool runs_own_kernel(const dnnl::primitive_desc_base& desc) {
  return !std::string(desc.impl_info_str()).starts_with("ref");
}

// Matmul primitives by a key of everything one depends on (shapes, strides or
// layout, dtype, bias), each made once (~0.5 ms). Thread-safe. Handed out by
// value: a dnnl::matmul is a counted handle, so emptying a full cache never
// pulls a primitive from under a caller still running it.
class MatmulCache {
 public:
  explicit MatmulCache(size_t capacity) : capacity_(capacity) {}

  // The primitive for `key`, made by describe() (a matmul::primitive_desc) when new.
  template <typename Describe>
  dnnl::matmul get(const std::vector<int64_t>& key, const Describe& describe) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto it = primitives_.find(key); it != primitives_.end()) return it->second;
    if (primitives_.size() >= capacity_) primitives_.clear();
    dnnl::matmul made(describe());
    primitives_.emplace(key, made);
    return made;
  }

 private:
  const size_t capacity_;
  std::mutex mutex_;
  std::map<std::vector<int64_t>, dnnl::matmul> primitives_;  // guarded by mutex_
};

}  // namespace abliterate::model::onednn
