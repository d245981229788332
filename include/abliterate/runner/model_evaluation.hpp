// Heretic's evaluation mode (method spec §1 step 11, `abliterate evaluate`):
// the KL divergence and refusal count of another model measured against the
// job's base model, on the job's evaluation prompts. Runs in-process, one
// model at a time (the base model is released before the other is loaded).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "abliterate/config/job.hpp"

namespace abliterate::runner {

struct ModelEvaluation {
  std::string response_prefix;    // given, cached or detected on the base model (method spec §3.4)
  bool baseline_from_cache = false;  // the base model's prefix and baselines came from the job's cache
  int64_t refusals_baseline = 0;  // R0 of the base model
  double kl_divergence = 0;       // KL(base || other), batchmean over the good evaluation prompts (§6.1)
  int64_t refusals = 0;           // refusals of the other model (§6.2)
  int64_t n_bad_evaluation_prompts = 0;
};

// Loads the job's prompt sets and base model, takes the response prefix and
// baselines from the job's cache when its fingerprint matches (else computes
// them, without the refusal directions, which evaluation does not need), then
// measures `other_model` (with `other_adapter` merged, when not empty) with
// the same prefix. Both models render prompts with their own chat template.
// Throws InputError when a model is missing or the two vocabularies differ in
// size, and the worker's errors otherwise.
ModelEvaluation evaluate_model(const config::Job& job, const std::filesystem::path& other_model,
                               const std::filesystem::path& other_adapter = {});

}  // namespace abliterate::runner
