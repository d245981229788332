#include "abliterate/study/objectives.hpp"

#include "abliterate/study/attribute_names.hpp"

namespace abliterate::study {

std::array<double, 2> objective_values(const config::Job& job, double kl_divergence, int64_t refusals,
                                       int64_t refusals_baseline) {
  if (job.objectives == config::Objectives::raw) return {kl_divergence, static_cast<double>(refusals)};
  const double refusal_score = refusals_baseline > 0
                                   ? static_cast<double>(refusals) / static_cast<double>(refusals_baseline)
                                   : static_cast<double>(refusals);
  const double s = job.kl_divergence_scale;
  const double t = job.kl_divergence_target;
  // Below the target KL the first objective stops rewarding smaller KL, so
  // "do nothing" trials gain nothing from their tiny KL (method spec §6.4).
  const double kl_score = kl_divergence >= t ? kl_divergence / s : refusal_score * t / s;
  return {kl_score, refusal_score};
}

std::array<std::string_view, 2> objective_names(config::Objectives objectives) {
  if (objectives == config::Objectives::raw) return {kKlDivergenceAttr, kRefusalsAttr};
  return {"kl_score", "refusal_score"};
}

}  // namespace abliterate::study
