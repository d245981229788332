// The decoder's small elementwise steps, each in one pass over its rows on
// the CPU: RMSNorm and rotary embedding. Does not know the decoder's layers or
// families beyond the norm's gain.
//
// A decode step is ~30 such steps per layer on tensors of a few thousand
// values, where LibTorch's cost is per operation, not per value: RMSNorm is
// six operations (pow, mean, add, rsqrt, two products), rotary embedding five
// per tensor. Each function here rounds as the operations it replaces do (the
// same float32 operations; bfloat16 rounded where they round), except that
// RMSNorm's mean of squares is summed in double. Other dtypes and devices run
// the LibTorch operations.
#pragma once

#include <torch/torch.h>

#include "abliterate/model/model_config.hpp"

namespace abliterate::model {

// x * r, r = rsqrt(mean(x^2) + eps) in float32, with the gain: Llama's
// w * cast(x * r) (rms_norm), Gemma's cast(x * r * (1 + w)) (gemma_rms_norm).
// x: [..., n]; weight: [n].
torch::Tensor fused_rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps, NormGain gain);

// Rotary embedding, x * cos + rotate_half(x) * sin, for x [B, T, H, D] (any
// strides, last one 1) and cos, sin [B, 1, T, D] contiguous; returns
// [B, H, T, D] contiguous, as the decoder's attention takes it.
torch::Tensor fused_rotary(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin);

}  // namespace abliterate::model
