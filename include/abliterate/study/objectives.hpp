// The values the sampler minimizes, from a trial's raw KL and refusals
// (method spec §6.4).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "abliterate/config/job.hpp"

namespace abliterate::study {

// heretic: (kl_score, refusal_score) of v1.2.0 with v1.3.0's guard for R0 = 0
//   refusal_score = R / R0 (R when R0 = 0)
//   kl_score      = K / s when K >= t, else refusal_score * t / s
// raw: (K, R).
std::array<double, 2> objective_values(const config::Job& job, double kl_divergence, int64_t refusals,
                                       int64_t refusals_baseline);

// Names of the two objectives, for study:metric_names. The raw objectives are
// named after the trial user attrs that hold the same values.
std::array<std::string_view, 2> objective_names(config::Objectives objectives);

}  // namespace abliterate::study
