// Refusal directions (method spec §4.3-4.4).
#pragma once

#include <cstdint>
#include <optional>

#include <torch/torch.h>

namespace abliterate::method {

// r_k = norm(bad_mean_k - good_mean_k), optionally orthogonalized against
// norm(good_mean_k). Inputs and result float32 [L+1, d]; rows unit norm.
torch::Tensor refusal_directions(const torch::Tensor& good_mean, const torch::Tensor& bad_mean,
                                 bool orthogonalize);

// The direction each layer uses, float32 [L, d]: "per layer" (index nullopt)
// gives layer l the row l+1; a global index lerps rows floor(i+1) and
// floor(i+1)+1 and renormalizes, the same vector for every layer.
torch::Tensor layer_directions(const torch::Tensor& directions, std::optional<double> direction_index);

}  // namespace abliterate::method
