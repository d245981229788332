// The store's trials as TPE reads them (spec/optuna-compat.md §1.3, §1.7).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "abliterate/study/search_space.hpp"
#include "abliterate/study/tpe_sampler.hpp"
#include "abliterate/study/trial.hpp"

namespace abliterate::study {

// One TpeTrial per COMPLETE, PRUNED or RUNNING trial (FAIL and WAITING are
// never read). A parameter takes its distribution from `space` when the name
// is there, else from `study_distributions` (the store's first row of that
// name); one found in neither is left out. RUNNING trials bring Optuna's
// `tpe:relative_params:<i>` chunks, and finished ones their constraint
// violation (system attrs `constraints` and `constraints:<name>`).
std::vector<TpeTrial> tpe_history(const std::vector<Trial>& trials, const std::vector<ParamSpec>& space,
                                  const std::vector<std::pair<std::string, Distribution>>& study_distributions);

}  // namespace abliterate::study
