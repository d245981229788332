// Refusal directions and the direction each layer uses (method spec §4.3-4.4).
#include "abliterate/method/directions.hpp"

#include <cmath>

#include "abliterate/common/error.hpp"

namespace abliterate::method {
namespace {

namespace F = torch::nn::functional;

// Rows scaled to unit L2 norm, as Heretic's F.normalize(p=2, dim=1) (eps 1e-12).
torch::Tensor normalize_rows(const torch::Tensor& rows) {
  return F::normalize(rows, F::NormalizeFuncOptions().p(2).dim(-1));
}

}  // namespace

torch::Tensor refusal_directions(const torch::Tensor& good_mean, const torch::Tensor& bad_mean, bool orthogonalize) {
  ABL_ASSERT(good_mean.dim() == 2 && good_mean.sizes() == bad_mean.sizes(),
             "residual means must both be [L+1, d], got {} and {}", c10::str(good_mean.sizes()),
             c10::str(bad_mean.sizes()));
  torch::NoGradGuard no_grad;  // not InferenceMode: callers get ordinary tensors
  const torch::Tensor good = good_mean.to(torch::kFloat32);  // float32 [L+1, d]
  torch::Tensor directions = normalize_rows(bad_mean.to(torch::kFloat32) - good);  // float32 [L+1, d]
  if (orthogonalize) {
    // "Projected abliteration": keep only the part orthogonal to the mean
    // harmless activation (method spec §4.3).
    const torch::Tensor good_unit = normalize_rows(good);                       // float32 [L+1, d]
    const torch::Tensor overlap = (directions * good_unit).sum(-1, true);       // float32 [L+1, 1]
    directions = normalize_rows(directions - overlap * good_unit);
  }
  return directions;
}

torch::Tensor layer_directions(const torch::Tensor& directions, std::optional<double> direction_index) {
  ABL_ASSERT(directions.dim() == 2 && directions.size(0) >= 2, "directions must be [L+1, d] with L >= 1, got {}",
             c10::str(directions.sizes()));
  torch::NoGradGuard no_grad;  // not InferenceMode: callers get ordinary tensors
  const int64_t n_layers = directions.size(0) - 1;
  // "per layer": layer l uses the direction measured at its own output, row l+1.
  if (!direction_index.has_value()) return directions.slice(0, 1).to(torch::kFloat32).contiguous();

  // global: +1 skips the embedding row, so index j is the output of layer j.
  const double shifted = *direction_index + 1;
  ABL_CHECK(std::isfinite(shifted) && shifted >= 0 && shifted <= static_cast<double>(n_layers), InputError,
            "direction_index: expected a value in [-1, {}], got {}", n_layers - 1, *direction_index);
  const double floor_idx = std::floor(shifted);
  const double fraction = shifted - floor_idx;
  const int64_t row_below = static_cast<int64_t>(floor_idx);
  // At the last row there is nothing above: lerp the row with itself.
  const int64_t row_above = std::min(row_below + 1, n_layers);
  const torch::Tensor below = directions[row_below].to(torch::kFloat32);  // float32 [d]
  const torch::Tensor above = directions[row_above].to(torch::kFloat32);  // float32 [d]
  const torch::Tensor mixed = normalize_rows(torch::lerp(below, above, fraction).unsqueeze(0));  // float32 [1, d]
  return mixed.expand({n_layers, directions.size(1)}).contiguous();
}

}  // namespace abliterate::method
