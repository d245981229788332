// Greedy hypervolume subset selection (HSSP), Optuna's _solve_hssp
// (optuna/_hypervolume/hssp.py; spec/optuna-compat.md §1.8): the tie-break
// that fills TPE's "below" set from a partly taken Pareto front.
#pragma once

#include <cstdint>
#include <vector>

#include "abliterate/study/non_dominated_sort.hpp"

namespace abliterate::study {

// Optuna's _get_reference_point: per objective max(1.1·worst, 0.9·worst),
// zeros replaced by 1e-12.
std::vector<double> hssp_reference_point(const LossVectors& loss_values);

// `subset_size` of `indices` (one per row of `loss_values`), chosen greedily
// by largest exclusive hypervolume contribution (first in lexicographic order
// on ties); duplicates and a non-finite reference handled as Optuna does.
std::vector<int64_t> solve_hssp(const LossVectors& loss_values, const std::vector<int64_t>& indices,
                                size_t subset_size, const std::vector<double>& reference);

}  // namespace abliterate::study
