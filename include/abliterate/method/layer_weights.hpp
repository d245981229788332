// The layer-weight kernel (method spec §5.2): a tent from Wmax at P down to m
// at distance D, and zero beyond D.
#pragma once

#include <cstdint>
#include <vector>

#include "abliterate/config/ablation_params.hpp"

namespace abliterate::method {

// Weight w_l for each layer l = 0..n_layers-1.
std::vector<double> layer_weights(const config::ComponentParams& params, int64_t n_layers);

}  // namespace abliterate::method
