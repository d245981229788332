// The Pareto front shown to the user (method spec §7.5): COMPLETE trials
// sorted by (refusals, kl_divergence), keeping a trial iff its KL is strictly
// below every KL kept so far.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "abliterate/study/trial.hpp"

namespace abliterate::study {

// Reads the user attrs `refusals` and `kl_divergence` of the COMPLETE trials
// (others are ignored); trials equal in both keep their input order, so of
// several ties only the first is kept. Throws FormatError naming the trial
// when a COMPLETE trial lacks either attr.
std::vector<Trial> pareto_front(const std::vector<Trial>& trials);

// Heretic's lines: "[Trial %3d] Refusals: %2d/N, KL divergence: %.4f", one
// per trial, each ending in a newline. The label is the stored trial number
// (0-based), not Heretic's 1-based counter; see pareto.cpp.
std::string format_pareto_front(const std::vector<Trial>& front, int64_t n_bad_prompts);
// The same with N unknown (a store without `n_bad_prompts`): N prints as "?".
std::string format_pareto_front(const std::vector<Trial>& front, std::optional<int64_t> n_bad_prompts);

}  // namespace abliterate::study
