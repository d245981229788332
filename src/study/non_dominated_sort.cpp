// Optuna's non-dominated sorting (optuna/study/_multi_objective.py).
#include "abliterate/study/non_dominated_sort.hpp"

#include <algorithm>
#include <numeric>

#include "abliterate/common/error.hpp"

namespace abliterate::study {

UniqueRows unique_rows(const LossVectors& values) {
  UniqueRows out;
  std::vector<size_t> order(values.size());
  std::iota(order.begin(), order.end(), 0);
  // Stable: the first occurrence of equal rows comes first (numpy's
  // return_index uses a stable sort).
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return values[a] < values[b]; });
  out.inverse.resize(values.size());
  for (size_t idx : order) {
    if (out.rows.empty() || out.rows.back() != values[idx]) {
      out.rows.push_back(values[idx]);
      out.first_index.push_back(idx);
    }
    out.inverse[idx] = out.rows.size() - 1;
  }
  return out;
}

std::vector<bool> pareto_front_of_sorted(const LossVectors& sorted) {
  const size_t n = sorted.size();
  std::vector<bool> on_front(n, false);
  if (n == 0) return on_front;
  const size_t n_objectives = sorted.front().size();
  if (n_objectives == 1) {
    on_front[0] = true;
    return on_front;
  }
  if (n_objectives == 2) {
    // A row is on the front when its second value is a new running minimum.
    double running_min = sorted[0][1];
    on_front[0] = true;
    for (size_t i = 1; i < n; ++i) {
      const double next_min = std::min(running_min, sorted[i][1]);
      on_front[i] = next_min < running_min;
      running_min = next_min;
    }
    return on_front;
  }
  // Rows later in lexicographic order cannot dominate earlier ones, so the
  // first remaining row is always non-dominated; keep the rows that beat it
  // somewhere in objectives 1.. .
  std::vector<size_t> remaining(n);
  std::iota(remaining.begin(), remaining.end(), 0);
  while (!remaining.empty()) {
    const size_t top = remaining.front();
    on_front[top] = true;
    std::vector<size_t> next;
    for (size_t idx : remaining) {
      bool better_somewhere = false;
      for (size_t m = 1; m < n_objectives; ++m) better_somewhere = better_somewhere || sorted[idx][m] < sorted[top][m];
      if (better_somewhere) next.push_back(idx);
    }
    remaining = std::move(next);
  }
  return on_front;
}

std::vector<int64_t> non_domination_ranks(const LossVectors& values, size_t n_below) {
  if (values.empty()) return {};
  const UniqueRows unique = unique_rows(values);
  const size_t n_unique = unique.rows.size();
  const size_t wanted = n_below == 0 ? n_unique : std::min(n_below, n_unique);
  std::vector<int64_t> unique_ranks(n_unique, 0);
  std::vector<size_t> indices(n_unique);
  std::iota(indices.begin(), indices.end(), 0);
  LossVectors remaining = unique.rows;
  int64_t rank = 0;
  while (n_unique - indices.size() < wanted) {
    const std::vector<bool> on_front = pareto_front_of_sorted(remaining);
    std::vector<size_t> next_indices;
    LossVectors next_remaining;
    for (size_t i = 0; i < indices.size(); ++i) {
      if (on_front[i]) {
        unique_ranks[indices[i]] = rank;
      } else {
        next_indices.push_back(indices[i]);
        next_remaining.push_back(std::move(remaining[i]));
      }
    }
    indices = std::move(next_indices);
    remaining = std::move(next_remaining);
    ++rank;
  }
  for (size_t idx : indices) unique_ranks[idx] = rank;
  std::vector<int64_t> ranks(values.size());
  for (size_t i = 0; i < values.size(); ++i) ranks[i] = unique_ranks[unique.inverse[i]];
  return ranks;
}

}  // namespace abliterate::study
