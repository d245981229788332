// Which trial of a study `export` writes: the one asked for, or the Pareto
// front's trial with the fewest refusals within a KL budget.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "abliterate/study/trial.hpp"

namespace abliterate::exporter {

struct TrialChoice {
  const study::Trial* trial = nullptr;
  std::string reason;  // why this one, in a sentence, for the user
};

// Trial `number` when given; it must be COMPLETE. Otherwise the front's trial
// (study::pareto_front) with the fewest refusals whose KL divergence is at
// most `max_kl`. Throws InputError naming `store_path` for a trial that is
// absent, not COMPLETE, or when no front trial fits the budget.
TrialChoice choose_trial(const std::vector<study::Trial>& trials, std::optional<int64_t> number, double max_kl,
                         const std::string& store_path);

}  // namespace abliterate::exporter
