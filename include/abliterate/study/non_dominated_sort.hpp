// Non-dominated sorting of loss vectors (all objectives minimized), as
// Optuna's _fast_non_domination_rank without constraints
// (optuna/study/_multi_objective.py; spec/optuna-compat.md §1.8).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace abliterate::study {

using LossVectors = std::vector<std::vector<double>>;  // one row per point

// Rows sorted lexicographically without duplicates (np.unique(axis=0)), with
// for each input row the index of its unique row and for each unique row the
// index of its first occurrence.
struct UniqueRows {
  LossVectors rows;
  std::vector<size_t> inverse;       // input row -> unique row
  std::vector<size_t> first_index;   // unique row -> first input row
};
UniqueRows unique_rows(const LossVectors& values);

// Whether each of `unique_lexsorted` (sorted, no duplicates) is on the Pareto
// front (Optuna's _is_pareto_front with assume_unique_lexsorted=True).
std::vector<bool> pareto_front_of_sorted(const LossVectors& unique_lexsorted);

// Non-domination rank of each row (0 = Pareto front). Fronts are peeled until
// at least `n_below` unique vectors are ranked; all others share the next
// rank. n_below = 0 ranks everything.
std::vector<int64_t> non_domination_ranks(const LossVectors& values, size_t n_below = 0);

}  // namespace abliterate::study
