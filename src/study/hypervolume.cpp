// Optuna's exact hypervolume (optuna/_hypervolume/wfg.py).
#include "abliterate/study/hypervolume.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "abliterate/common/error.hpp"

namespace abliterate::study {
namespace {

// _compute_2d: points sorted by the first objective, on the front.
double hypervolume_2d(const LossVectors& sorted, const std::vector<double>& reference) {
  double hv = 0.0;
  for (size_t i = 0; i < sorted.size(); ++i) {
    const double diag_y = i == 0 ? reference[1] : sorted[i - 1][1];
    hv += (reference[0] - sorted[i][0]) * (diag_y - sorted[i][1]);
  }
  return hv;
}

double inclusive_hypervolume(const std::vector<double>& point, const std::vector<double>& reference) {
  double hv = 1.0;
  for (size_t m = 0; m < point.size(); ++m) hv *= reference[m] - point[m];
  return hv;
}

double hypervolume_wfg(const LossVectors& sorted, const std::vector<double>& reference);

// _compute_exclusive_hv: the part of `inclusive` not covered by `limited`.
double exclusive_hypervolume(const LossVectors& limited, double inclusive, const std::vector<double>& reference) {
  if (limited.size() <= 3) return inclusive - hypervolume_wfg(limited, reference);
  const std::vector<bool> on_front = pareto_front_of_sorted(limited);
  LossVectors front;
  for (size_t i = 0; i < limited.size(); ++i) {
    if (on_front[i]) front.push_back(limited[i]);
  }
  return inclusive - hypervolume_wfg(front, reference);
}

// _compute_hv: WFG over points sorted by the first objective.
double hypervolume_wfg(const LossVectors& sorted, const std::vector<double>& reference) {
  if (sorted.size() == 1) return inclusive_hypervolume(sorted[0], reference);
  if (sorted.size() == 2) {
    double hv1 = 1.0, hv2 = 1.0, intersection = 1.0;
    for (size_t m = 0; m < reference.size(); ++m) {
      hv1 *= reference[m] - sorted[0][m];
      hv2 *= reference[m] - sorted[1][m];
      intersection *= reference[m] - std::max(sorted[0][m], sorted[1][m]);
    }
    return hv1 + hv2 - intersection;
  }
  double total = inclusive_hypervolume(sorted.back(), reference);
  double rest = 0.0;
  for (size_t i = 0; i + 1 < sorted.size(); ++i) {
    LossVectors limited;
    for (size_t j = i + 1; j < sorted.size(); ++j) {
      std::vector<double> p(reference.size());
      for (size_t m = 0; m < reference.size(); ++m) p[m] = std::max(sorted[i][m], sorted[j][m]);
      limited.push_back(std::move(p));
    }
    rest += exclusive_hypervolume(limited, inclusive_hypervolume(sorted[i], reference), reference);
  }
  return total + rest;
}

}  // namespace

double hypervolume(const LossVectors& points, const std::vector<double>& reference) {
  for (const auto& p : points) {
    for (size_t m = 0; m < reference.size(); ++m) {
      ABL_ASSERT(p[m] <= reference[m], "hypervolume: a point lies beyond the reference point");
    }
  }
  for (double r : reference) {
    if (!std::isfinite(r)) return std::numeric_limits<double>::infinity();
  }
  if (points.empty()) return 0.0;
  const UniqueRows unique = unique_rows(points);
  const std::vector<bool> on_front = pareto_front_of_sorted(unique.rows);
  LossVectors front;
  for (size_t i = 0; i < unique.rows.size(); ++i) {
    if (on_front[i]) front.push_back(unique.rows[i]);
  }
  const double hv = reference.size() == 2 ? hypervolume_2d(front, reference) : hypervolume_wfg(front, reference);
  return std::isfinite(hv) ? hv : std::numeric_limits<double>::infinity();
}

}  // namespace abliterate::study
