// Optuna's greedy hypervolume subset selection (optuna/_hypervolume/hssp.py).
#include "abliterate/study/hypervolume_subset.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "abliterate/common/error.hpp"
#include "abliterate/study/hypervolume.hpp"

namespace abliterate::study {
namespace {

constexpr double kEps = 1e-12;

size_t argmax(const std::vector<double>& v) {
  return static_cast<size_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

// _solve_hssp_2d on unique lexsorted rows: exact rectangle updates.
std::vector<size_t> hssp_2d(const LossVectors& rows, size_t subset_size, const std::vector<double>& reference) {
  std::vector<size_t> order(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) order[i] = i;
  LossVectors values = rows;
  LossVectors diagonals(rows.size(), reference);
  std::vector<size_t> selected;
  for (size_t step = 0; step < subset_size; ++step) {
    std::vector<double> contributions(values.size());
    for (size_t i = 0; i < values.size(); ++i) {
      contributions[i] = (diagonals[i][0] - values[i][0]) * (diagonals[i][1] - values[i][1]);
    }
    const size_t best = argmax(contributions);
    selected.push_back(order[best]);
    const std::vector<double> chosen = values[best];
    order.erase(order.begin() + static_cast<std::ptrdiff_t>(best));
    values.erase(values.begin() + static_cast<std::ptrdiff_t>(best));
    diagonals.erase(diagonals.begin() + static_cast<std::ptrdiff_t>(best));
    for (size_t i = 0; i < best; ++i) diagonals[i][0] = std::min(chosen[0], diagonals[i][0]);
    for (size_t i = best; i < diagonals.size(); ++i) diagonals[i][1] = std::min(chosen[1], diagonals[i][1]);
  }
  return selected;
}

// The ≥3-D greedy: the exact contribution H(S ∪ {i}) − H(S) of every
// candidate each round. Optuna skips some of these evaluations with
// submodular upper bounds, which never changes the argmax.
std::vector<size_t> hssp_nd(const LossVectors& rows, size_t subset_size, const std::vector<double>& reference) {
  std::vector<size_t> remaining(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) remaining[i] = i;
  std::vector<double> contributions(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    double product = 1.0;
    for (size_t m = 0; m < reference.size(); ++m) product *= reference[m] - rows[i][m];
    contributions[i] = product;
  }
  LossVectors selected_rows;
  std::vector<size_t> selected;
  double hv_selected = 0;
  for (size_t step = 0; step < subset_size; ++step) {
    const size_t best = argmax(contributions);
    hv_selected += contributions[best];
    selected.push_back(remaining[best]);
    selected_rows.push_back(rows[remaining[best]]);
    remaining.erase(remaining.begin() + static_cast<std::ptrdiff_t>(best));
    contributions.erase(contributions.begin() + static_cast<std::ptrdiff_t>(best));
    if (step + 1 == subset_size) break;
    for (size_t i = 0; i < remaining.size(); ++i) {
      if (std::isinf(hv_selected)) {
        contributions[i] = std::numeric_limits<double>::infinity();
        continue;
      }
      LossVectors with = selected_rows;
      with.push_back(rows[remaining[i]]);
      contributions[i] = hypervolume(with, reference) - hv_selected;
    }
  }
  return selected;
}

}  // namespace

std::vector<double> hssp_reference_point(const LossVectors& loss_values) {
  ABL_ASSERT(!loss_values.empty(), "reference point of no loss vectors");
  std::vector<double> worst = loss_values.front();
  for (const auto& row : loss_values) {
    for (size_t m = 0; m < worst.size(); ++m) worst[m] = std::max(worst[m], row[m]);
  }
  std::vector<double> reference(worst.size());
  for (size_t m = 0; m < worst.size(); ++m) {
    reference[m] = std::max(1.1 * worst[m], 0.9 * worst[m]);
    if (reference[m] == 0) reference[m] = kEps;
  }
  return reference;
}

std::vector<int64_t> solve_hssp(const LossVectors& loss_values, const std::vector<int64_t>& indices,
                                size_t subset_size, const std::vector<double>& reference) {
  ABL_ASSERT(loss_values.size() == indices.size() && subset_size <= indices.size(), "solve_hssp: bad sizes");
  if (subset_size == indices.size()) return indices;
  const UniqueRows unique = unique_rows(loss_values);
  const size_t n_unique = unique.rows.size();
  if (n_unique < subset_size) {
    // Every unique vector, then the earliest duplicates, in index order.
    std::vector<bool> chosen(indices.size(), false);
    for (size_t first : unique.first_index) chosen[first] = true;
    size_t extra = subset_size - n_unique;
    for (size_t i = 0; i < indices.size() && extra > 0; ++i) {
      if (!chosen[i]) {
        chosen[i] = true;
        --extra;
      }
    }
    std::vector<int64_t> out;
    for (size_t i = 0; i < indices.size(); ++i) {
      if (chosen[i]) out.push_back(indices[i]);
    }
    return out;
  }
  std::vector<size_t> picked;
  const bool finite = std::all_of(reference.begin(), reference.end(), [](double r) { return std::isfinite(r); });
  if (!finite) {
    for (size_t i = 0; i < subset_size; ++i) picked.push_back(i);
  } else if (n_unique == subset_size) {
    for (size_t i = 0; i < n_unique; ++i) picked.push_back(i);
  } else if (reference.size() == 2) {
    picked = hssp_2d(unique.rows, subset_size, reference);
  } else {
    picked = hssp_nd(unique.rows, subset_size, reference);
  }
  std::vector<int64_t> out;
  out.reserve(picked.size());
  for (size_t p : picked) out.push_back(indices[unique.first_index[p]]);
  return out;
}

}  // namespace abliterate::study
