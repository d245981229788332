// The decoder's small elementwise steps, each in one pass over its rows on
// the CPU: RMSNorm, rotary embedding, attention's softmax and the MLP's gated
// activation. Does not know the decoder's layers or families beyond the
// norm's gain and the activation.
//
// A decode step is ~30 such steps per layer on tensors of a few thousand
// values, where LibTorch's cost is per operation, not per value: RMSNorm is
// six operations (pow, mean, add, rsqrt, two products), rotary embedding five
// per tensor. Each function here rounds as the operations it replaces do (the
// same float32 operations; bfloat16 rounded where they round), except that
// RMSNorm's mean of squares is summed in double and e^x and tanh are
// lane_math's (within 2 ulps, where LibTorch's are within 1). Other dtypes and
// devices run the LibTorch operations.
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

// Attention probabilities: softmax(float32(scores * scaling), blocked keys at
// -inf) over the last dimension, cast back to the scores' dtype; with
// softcapping c > 0, scores * scaling is capped to c * tanh(. / c) first (in
// the LibTorch operations). scores: [B, H, T, S]; blocked: bool [B or 1, 1,
// T, S], any strides. Replaces four operations (product, cast, masked_fill,
// softmax) that at a decode step's few thousand values each run on one thread.
torch::Tensor fused_attention_probs(const torch::Tensor& scores, const torch::Tensor& blocked, double scaling,
                                    double softcapping);

// The gated MLP's act(gate) * up, gate_up: [..., 2I] with the gate first;
// returns [..., I] contiguous. Replaces the activation and the product.
torch::Tensor fused_gated_activation(const torch::Tensor& gate_up, MlpActivation activation);

}  // namespace abliterate::model
