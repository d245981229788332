// Optuna 5.0's Parzen estimator: a mixture of N + 1 product kernels (one per
// observation plus the prior) over a search space, sampled and evaluated as
// optuna/samplers/_tpe/parzen_estimator.py and probability_distributions.py
// do (spec/optuna-compat.md §1.4–1.6).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "abliterate/study/numpy_random_state.hpp"
#include "abliterate/study/search_space.hpp"

namespace abliterate::study {

struct ParzenEstimatorOptions {
  double prior_weight = 1.0;
  bool consider_magic_clip = true;
  bool consider_endpoints = false;
};

// Optuna's default_weights(n): n ones below 25, else a ramp from 1/n to 1
// over the oldest n − 25 observations followed by 25 ones.
std::vector<double> default_tpe_weights(size_t n);

// Points of the search space in internal representation, dimension-major:
// points[d][i] is dimension d of point i.
using PointBatch = std::vector<std::vector<double>>;

class ParzenEstimator {
 public:
  // `observations` is dimension-major (one vector per ParamSpec, all of the
  // same length N). `raw_weights` (N entries) replaces default_tpe_weights.
  ParzenEstimator(const std::vector<ParamSpec>& space, const PointBatch& observations,
                  const ParzenEstimatorOptions& options, std::optional<std::vector<double>> raw_weights = std::nullopt);

  // `size` points drawn from the mixture, consuming `rng` as Optuna does.
  PointBatch sample(NumpyRandomState& rng, size_t size) const;
  // log density (mass for discrete dimensions) of each point.
  std::vector<double> log_pdf(const PointBatch& points) const;

  size_t n_kernels() const { return weights_.size(); }

 private:
  struct Dimension {
    bool is_categorical = false;
    // Categorical: n_kernels × n_choices probabilities, row-major.
    size_t n_choices = 0;
    std::vector<double> choice_weights;
    // Numerical: kernel means and widths in the transformed space.
    std::vector<double> mu;
    std::vector<double> sigma;
    double low = 0;   // the distribution's own bounds
    double high = 0;
    double step = 0;  // 0: continuous
    bool is_log = false;
    double adapted_low = 0;  // bounds in the transformed space, widened by step/2
    double adapted_high = 0;
  };

  static Dimension numerical_dimension(const Distribution& distribution, const std::vector<double>& observations,
                                       const ParzenEstimatorOptions& options);
  static Dimension categorical_dimension(const CategoricalDistribution& distribution,
                                         const std::vector<double>& observations,
                                         const ParzenEstimatorOptions& options);

  // The steps of log_pdf. Each adds its dimensions' log densities to
  // `weighted`: n_points × n_kernels, row-major, one row per point.
  static void add_categorical_log_pdf(const Dimension& dim, const std::vector<double>& xs, size_t n_points,
                                      size_t n_kernels, std::vector<double>& weighted);
  static void add_discrete_log_pdf(const Dimension& dim, const std::vector<double>& xs, size_t n_points,
                                   size_t n_kernels, std::vector<double>& weighted);
  // All continuous dimensions (indices into dims_) at once, as Optuna sums them.
  void add_continuous_log_pdf(const std::vector<size_t>& continuous, const PointBatch& points, size_t n_points,
                              std::vector<double>& weighted) const;
  struct ContinuousKernels;  // parzen_estimator.cpp
  ContinuousKernels continuous_kernels(const std::vector<size_t>& continuous) const;

  std::vector<double> weights_;  // mixture weights, prior last
  std::vector<Dimension> dims_;
};

}  // namespace abliterate::study
