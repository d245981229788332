#include "abliterate/runner/model_dtype.hpp"

namespace abliterate::runner {

torch::Dtype torch_dtype(config::DType dtype) {
  switch (dtype) {
    case config::DType::float32: return torch::kFloat32;
    case config::DType::bfloat16: return torch::kBFloat16;
    case config::DType::float16: return torch::kFloat16;
  }
  return torch::kFloat32;
}

}  // namespace abliterate::runner
