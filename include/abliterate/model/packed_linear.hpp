// One linear layer, x W^T + b, with its weight prepared once at load for the
// fastest matrix product the device has. Does not know the decoder, its
// families or hooks.
//
// See Note [Prepacked weights] in src/model/packed_linear.cpp. On the CPU, in
// float32 and bfloat16, the weight is reordered once into oneDNN's blocked
// layout and every product runs oneDNN's matmul on it; elsewhere (CUDA,
// float16, a build without oneDNN) it is torch::linear on the plain weight.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>

#include <torch/torch.h>

namespace abliterate::model {

class PackedLinear {
 public:
  PackedLinear() = default;

  // weight: [N, K] in the model dtype on the model device; bias: [N] or
  // undefined. The weight is copied into the packed layout where one is used,
  // so the caller may release its own tensor afterwards. Products come out in
  // output_dtype (default: the weight's); a bfloat16 weight may give float32,
  // its sums then not rounded to bfloat16 (oneDNN accumulates in float32).
  PackedLinear(const torch::Tensor& weight, const torch::Tensor& bias);
  PackedLinear(const torch::Tensor& weight, const torch::Tensor& bias, torch::ScalarType output_dtype);

  // x: [..., K] in the weight dtype -> [..., N]. Safe from several threads at
  // once, as the Decoder promises: the primitive cache is shared under a mutex
  // and each thread runs on its own oneDNN stream.
  torch::Tensor operator()(const torch::Tensor& x) const;

  int64_t in_features() const { return in_features_; }
  int64_t out_features() const { return out_features_; }
  // Whether products run on the prepacked weight (oneDNN) rather than torch::linear.
  bool is_packed() const { return packed_ != nullptr; }
  // Whether this build packs CPU weights at all (CMake option ABL_ONEDNN).
  static bool packs_cpu_weights();
  // Whether packed int8 products (int32 sums) run on this CPU's own int8 dot
  // product instructions (AVX512-VNNI, AVX-VNNI or AMX).
  static bool runs_int8_natively();

  struct OneDnnWeight;  // the reordered weight and bias; defined in packed_linear.cpp

 private:
  int64_t in_features_ = 0;
  int64_t out_features_ = 0;
  torch::ScalarType output_dtype_ = torch::kFloat32;
  torch::Tensor weight_;  // [N, K]; undefined when packed
  torch::Tensor bias_;    // [N] or undefined; undefined when packed
  std::shared_ptr<const OneDnnWeight> packed_;
};

// Concatenates weights (and biases) along the output dimension, so that
// projections of the same input run as one product: q/k/v, and gate/up.
// Biases are all undefined or all defined.
PackedLinear fuse_linears(std::initializer_list<torch::Tensor> weights, std::initializer_list<torch::Tensor> biases);

}  // namespace abliterate::model
