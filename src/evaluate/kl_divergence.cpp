// KL(base || trial) at the first response token (method spec §6.1).
#include "abliterate/evaluate/kl_divergence.hpp"

#include <cmath>

#include "abliterate/common/error.hpp"

namespace abliterate::evaluate {

double kl_divergence(const torch::Tensor& base_logprobs, const torch::Tensor& trial_logprobs) {
  ABL_ASSERT(base_logprobs.dim() == 2 && base_logprobs.sizes() == trial_logprobs.sizes(),
             "KL divergence of log-probs [N, V] of the same shape, got {} and {}", c10::str(base_logprobs.sizes()),
             c10::str(trial_logprobs.sizes()));
  ABL_ASSERT(base_logprobs.size(0) > 0, "KL divergence over no prompts");
  c10::InferenceMode guard;
  const torch::Tensor base = base_logprobs.to(torch::kCPU, torch::kFloat32);    // float32 [N, V]
  const torch::Tensor trial = trial_logprobs.to(torch::kCPU, torch::kFloat32);  // float32 [N, V]
  ABL_CHECK(!torch::isnan(base).any().item<bool>(), NumericError, "baseline log-probabilities hold NaN");
  ABL_CHECK(!torch::isnan(trial).any().item<bool>(), NumericError, "trial log-probabilities hold NaN");
  // F.kl_div(trial, base, reduction="batchmean", log_target=True): the terms
  // in float32 as there, summed in float64 so that V ~ 262k terms lose nothing.
  const torch::Tensor terms = base.exp() * (base - trial);  // float32 [N, V]
  const double kl = terms.sum(torch::kFloat64).item<double>() / static_cast<double>(base.size(0));
  // NaN here means 0·inf: a token the baseline gives probability 0 at -inf
  // log-prob; inf, a token the trial rules out (-inf) that the baseline does not.
  ABL_CHECK(std::isfinite(kl), NumericError, "KL divergence is {} ({})", kl,
            std::isnan(kl) ? "a log-probability of -inf on both sides"
                           : "the trial gives -inf log-probability to a token the baseline does not");
  return kl;
}

}  // namespace abliterate::evaluate
