// Residual statistics: winsorization and float64 sums (method spec §4.1-4.2).
#include "abliterate/method/residuals.hpp"

#include <cmath>

#include "abliterate/common/error.hpp"

namespace abliterate::method {

torch::Tensor winsorize(const torch::Tensor& hidden, double quantile) {
  ABL_CHECK(quantile >= 0, InputError, "winsorization_quantile: expected a value in [0, 1], got {}", quantile);
  if (quantile >= 1) return hidden;
  ABL_ASSERT(hidden.dim() == 3, "winsorize expects [B, L+1, d], got {} dims", hidden.dim());
  // No InferenceMode here: the result is an ordinary tensor the caller may update in place.
  torch::NoGradGuard no_grad;
  // Spelled out rather than torch::quantile, which refuses inputs of more
  // than 2^24 elements; the steps are torch.quantile's, including the rank
  // q*(d-1) computed in float32 as Heretic's Python float q becomes a float32
  // scalar tensor there.
  const torch::Tensor magnitudes = std::get<0>(hidden.abs().sort(-1));  // float32 [B, L+1, d], ascending
  const int64_t last_idx = hidden.size(-1) - 1;
  const torch::Tensor rank = torch::scalar_tensor(quantile, hidden.options()) * last_idx;  // float32 []
  const torch::Tensor rank_below = rank.to(torch::kLong);
  const torch::Tensor rank_above = rank.ceil().to(torch::kLong);
  const torch::Tensor weight = rank - rank_below;  // float32 [], the interpolation weight
  const torch::Tensor below = magnitudes.index_select(-1, rank_below.reshape({1}));  // float32 [B, L+1, 1]
  const torch::Tensor above = magnitudes.index_select(-1, rank_above.reshape({1}));  // float32 [B, L+1, 1]
  const torch::Tensor threshold = torch::lerp(below, above, weight);                 // float32 [B, L+1, 1]
  return torch::max(torch::min(hidden, threshold), -threshold);
}

void ResidualSums::add(const torch::Tensor& hidden) {
  ABL_ASSERT(hidden.dim() == 3, "residual batch must be [B, L+1, d], got {} dims", hidden.dim());
  // InferenceMode is switched OFF, even inside a caller's: sum() is an
  // ordinary tensor, which callers (the MPI reduction) may update in place in
  // any mode (an inference tensor may not be, outside InferenceMode).
  c10::InferenceMode guard(/*enabled=*/false);
  torch::NoGradGuard no_grad;
  // Summed in float64 on the hidden states' device, then moved: one small
  // [L+1, d] copy per batch instead of the whole batch.
  torch::Tensor batch_sum = hidden.sum(0, /*keepdim=*/false, torch::kFloat64).to(torch::kCPU);  // float64 [L+1, d]
  if (!sum_.defined()) {
    sum_ = std::move(batch_sum);
  } else {
    ABL_ASSERT(sum_.sizes() == batch_sum.sizes(), "residual batch shape {} differs from the sums' {}",
               c10::str(batch_sum.sizes()), c10::str(sum_.sizes()));
    sum_ = sum_ + batch_sum;  // out of place: sum_ may be an inference tensor given to the constructor
  }
  count_ += hidden.size(0);
}

void ResidualSums::merge(const ResidualSums& other) {
  if (other.count_ == 0) return;
  c10::InferenceMode guard(/*enabled=*/false);  // sum_ stays ordinary; see add()
  torch::NoGradGuard no_grad;
  const torch::Tensor other_sum = other.sum_.to(torch::kCPU, torch::kFloat64);  // float64 [L+1, d]
  if (!sum_.defined()) {
    sum_ = other_sum.clone();
  } else {
    ABL_ASSERT(sum_.sizes() == other_sum.sizes(), "merged residual sums disagree in shape");
    sum_ = sum_ + other_sum;
  }
  count_ += other.count_;
}

torch::Tensor ResidualSums::mean() const {
  ABL_ASSERT(count_ > 0 && sum_.defined(), "mean of residual sums over no prompts");
  torch::NoGradGuard no_grad;
  return (sum_ / static_cast<double>(count_)).to(torch::kFloat32);
}

}  // namespace abliterate::method
