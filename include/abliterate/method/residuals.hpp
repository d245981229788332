// Residual statistics (method spec §4.1-4.2): per-layer float64 sums of the
// hidden states at the last prompt position, so that no residual need be kept.
#pragma once

#include <cstdint>

#include <torch/torch.h>

namespace abliterate::method {

// Clamps every [d] vector of `hidden` to ±quantile(|x|, q) (linear
// interpolation, method spec §4.2). q >= 1 returns hidden unchanged.
// hidden: float32 [B, L+1, d].
torch::Tensor winsorize(const torch::Tensor& hidden, double quantile);

class ResidualSums {
 public:
  ResidualSums() = default;
  ResidualSums(torch::Tensor sum, int64_t count) : sum_(std::move(sum)), count_(count) {}

  // Adds a batch: hidden float32 [B, L+1, d].
  void add(const torch::Tensor& hidden);
  // Adds another worker's sums.
  void merge(const ResidualSums& other);

  const torch::Tensor& sum() const { return sum_; }  // float64 [L+1, d] on CPU
  int64_t count() const { return count_; }
  // float32 [L+1, d]; throws InternalError when count() == 0.
  torch::Tensor mean() const;

 private:
  torch::Tensor sum_;
  int64_t count_ = 0;
};

}  // namespace abliterate::method
