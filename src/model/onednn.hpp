// What packed_linear.cpp and batched_matmul.cpp share of oneDNN: the CPU
// engine, a stream per thread, and the dtypes oneDNN serves. Only compiled
// where ABL_HAVE_ONEDNN is defined (CMake option ABL_ONEDNN).
#pragma once

#include <optional>

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
    default: return std::nullopt;
  }
}

}  // namespace abliterate::model::onednn
