#include "abliterate/exporter/trial_choice.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "abliterate/common/error.hpp"
#include "abliterate/study/attribute_names.hpp"
#include "abliterate/study/pareto.hpp"

namespace abliterate::exporter {

TrialChoice choose_trial(const std::vector<study::Trial>& trials, std::optional<int64_t> number, double max_kl,
                         const std::string& store_path) {
  if (number) {
    const auto it = std::find_if(trials.begin(), trials.end(),
                                 [&](const study::Trial& trial) { return trial.number == *number; });
    ABL_CHECK(it != trials.end(), InputError, "{}: no trial {} (its trials are 0 to {})", store_path, *number,
              static_cast<int64_t>(trials.size()) - 1);
    ABL_CHECK(it->state == study::TrialState::COMPLETE, InputError,
              "{}: trial {} is {}, not COMPLETE: only a measured trial can be exported", store_path, *number,
              study::to_string(it->state));
    return {&*it, fmt::format("trial {}, as asked", *number)};
  }
  // The front is sorted by refusals, then KL: the first within the budget has the fewest refusals.
  const std::vector<study::Trial> front = study::pareto_front(trials);
  ABL_CHECK(!front.empty(), InputError, "{}: no COMPLETE trial to export yet", store_path);
  for (const study::Trial& candidate : front) {
    const double kl = candidate.user_attrs.at(std::string(study::kKlDivergenceAttr)).get<double>();
    if (kl > max_kl) continue;
    const auto it = std::find_if(trials.begin(), trials.end(),
                                 [&](const study::Trial& trial) { return trial.number == candidate.number; });
    const int64_t refusals = candidate.user_attrs.at(std::string(study::kRefusalsAttr)).get<int64_t>();
    return {&*it, fmt::format("the Pareto front's trial with the fewest refusals ({}) at a KL divergence of at most "
                              "{} (its KL: {:.4f}); choose another with --trial N",
                              refusals, max_kl, kl)};
  }
  throw InputError(fmt::format("{}: no trial of the Pareto front has a KL divergence of at most {} (the lowest is "
                               "{:.4f}); raise --max-kl or choose one with --trial N",
                               store_path, max_kl,
                               front.back().user_attrs.at(std::string(study::kKlDivergenceAttr)).get<double>()));
}

}  // namespace abliterate::exporter
