// The layer-weight kernel (method spec §5.2).
#include "abliterate/method/layer_weights.hpp"

#include <cmath>

#include "abliterate/common/error.hpp"

namespace abliterate::method {

std::vector<double> layer_weights(const config::ComponentParams& params, int64_t n_layers) {
  // The search space keeps D >= 1 (method spec §7.2); D <= 0 would divide by zero.
  ABL_CHECK(params.min_weight_distance > 0, InputError, "min_weight_distance: expected > 0, got {}",
            params.min_weight_distance);
  ABL_ASSERT(n_layers >= 0, "n_layers {} < 0", n_layers);
  std::vector<double> weights(static_cast<size_t>(n_layers), 0.0);
  for (int64_t layer_idx = 0; layer_idx < n_layers; ++layer_idx) {
    const double distance = std::abs(static_cast<double>(layer_idx) - params.max_weight_position);
    // Past D the layer is untouched: the kernel drops from m straight to 0.
    if (distance > params.min_weight_distance) continue;
    weights[static_cast<size_t>(layer_idx)] =
        params.max_weight +
        (distance / params.min_weight_distance) * (params.min_weight - params.max_weight);
  }
  return weights;
}

}  // namespace abliterate::method
