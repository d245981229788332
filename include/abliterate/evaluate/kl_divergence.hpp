// KL(base || ablated) at the first response token (method spec §6.1).
#pragma once

#include <torch/torch.h>

namespace abliterate::evaluate {

// Batchmean KL: (1/N) sum_n sum_v p_base (log p_base - log p_trial).
// base_logprobs, trial_logprobs: float32 [N, V] log-softmax outputs.
// Throws NumericError when either holds NaN.
double kl_divergence(const torch::Tensor& base_logprobs, const torch::Tensor& trial_logprobs);

}  // namespace abliterate::evaluate
