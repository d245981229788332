// Exact hypervolume of loss vectors against a reference point (all
// objectives minimized), as Optuna's compute_hypervolume
// (optuna/_hypervolume/wfg.py): the 2-D sweep, and the WFG recursion above.
#pragma once

#include <vector>

#include "abliterate/study/non_dominated_sort.hpp"

namespace abliterate::study {

// Every point must be <= `reference` in every objective. Infinite when the
// reference is not finite; 0 for no points.
double hypervolume(const LossVectors& points, const std::vector<double>& reference);

}  // namespace abliterate::study
