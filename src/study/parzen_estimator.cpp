// Optuna 5.0's _ParzenEstimator and _MixtureOfProductDistribution
// (spec/optuna-compat.md §1.4–1.6), in numpy's operation order.
#include "abliterate/study/parzen_estimator.hpp"

// The density loops are the sampler's hot path (bench/sampler_bench.cpp):
// let GCC vectorize them. Vectorizing never reorders floating-point sums
// without -ffast-math, so results stay bit-identical.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("tree-vectorize")
#endif

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "abliterate/common/error.hpp"
#include "abliterate/study/truncated_normal.hpp"
#include "numpy_sum.hpp"

namespace abliterate::study {
namespace {

constexpr double kEps = 1e-12;
constexpr double kInf = std::numeric_limits<double>::infinity();

// numpy.linspace(start, stop, num) with endpoint=True.
std::vector<double> linspace(double start, double stop, size_t num) {
  std::vector<double> y(num);
  if (num == 0) return y;
  const double delta = stop - start;
  if (num == 1) {
    y[0] = 0.0 * delta + start;
    return y;
  }
  const double step = delta / static_cast<double>(num - 1);
  for (size_t i = 0; i < num; ++i) {
    if (step == 0) {
      y[i] = static_cast<double>(i) / static_cast<double>(num - 1) * delta + start;
    } else {
      y[i] = static_cast<double>(i) * step + start;
    }
  }
  y[num - 1] = stop;
  return y;
}

// Which choice of a cumulative row the quantile u falls into:
// sum(cum_probs < u) with the last cumulative forced to 1.
size_t categorical_pick(const double* row, size_t n_choices, double u) {
  size_t count = 0;
  double cum = 0.0;
  for (size_t c = 0; c < n_choices; ++c) {
    cum += row[c];
    const double bound = c + 1 == n_choices ? 1.0 : cum;
    count += bound < u;
  }
  return count;
}

// The number of distinct (a, b) pairs with a ≤ 0 < b among `pairs`
// (Optuna evaluates the mass of unique pairs only, and the count of central
// ones picks its erf implementation).
size_t unique_central_count(std::vector<std::pair<double, double>>& pairs) {
  std::erase_if(pairs, [](const auto& p) { return p.second <= 0 || p.first > 0; });
  std::sort(pairs.begin(), pairs.end());
  return static_cast<size_t>(std::unique(pairs.begin(), pairs.end()) - pairs.begin());
}

// The threshold of truncated_normal.cpp: below it no dedup is needed.
constexpr size_t kPolynomialErfMinSize = 2000;

// log_gauss_mass of each pair as Optuna computes it after deduplicating:
// the erf implementation follows the unique central count.
void log_gauss_mass_deduplicated(std::span<const double> a, std::span<const double> b, std::span<double> out) {
  size_t n_central_bound = 0;
  for (size_t i = 0; i < a.size(); ++i) n_central_bound += !(b[i] <= 0) && !(a[i] > 0);
  if (n_central_bound < kPolynomialErfMinSize) {
    // The unique central count is at most this: libm's erf either way.
    truncnorm::log_gauss_mass(a, b, out);
    return;
  }
  std::vector<std::pair<double, double>> pairs(a.size());
  for (size_t i = 0; i < a.size(); ++i) pairs[i] = {a[i], b[i]};
  const size_t n_unique_central = unique_central_count(pairs);
  // The values are elementwise; only the erf implementation depends on the
  // batch, so evaluate each pair alone (libm) or in a batch large enough for
  // the polynomial.
  const bool polynomial = n_unique_central >= kPolynomialErfMinSize;
  for (size_t i = 0; i < a.size(); ++i) {
    const bool central = !(b[i] <= 0) && !(a[i] > 0);
    if (!central) {
      truncnorm::log_gauss_mass(a.subspan(i, 1), b.subspan(i, 1), out.subspan(i, 1));
      continue;
    }
    if (!polynomial) {
      truncnorm::log_gauss_mass(a.subspan(i, 1), b.subspan(i, 1), out.subspan(i, 1));
    } else {
      // A batch of kPolynomialErfMinSize copies takes the polynomial path.
      static thread_local std::vector<double> aa, bb, oo;
      aa.assign(kPolynomialErfMinSize, a[i]);
      bb.assign(kPolynomialErfMinSize, b[i]);
      oo.resize(kPolynomialErfMinSize);
      truncnorm::log_gauss_mass(aa, bb, oo);
      out[i] = oo[0];
    }
  }
}

// The sorted distinct values (numpy.unique).
template <typename T>
std::vector<T> sorted_unique(std::vector<T> values) {
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  return values;
}

// The mixture's log density at each point: log Σ_k w_k·p_k(x), from
// `weighted` (n_points × n_kernels, row-major, log p_k(x); overwritten with
// log w_k + log p_k(x)) as Optuna's logsumexp computes it.
std::vector<double> log_mixture(std::vector<double>& weighted, const std::vector<double>& weights, size_t n_points) {
  const size_t n_kernels = weights.size();
  std::vector<double> log_weights(n_kernels);
  for (size_t k = 0; k < n_kernels; ++k) log_weights[k] = std::log(weights[k]);
  std::vector<double> result(n_points);
  std::vector<double> shifted(n_kernels);
  for (size_t s = 0; s < n_points; ++s) {
    double* row = &weighted[s * n_kernels];
    double max_value = -kInf;
    for (size_t k = 0; k < n_kernels; ++k) {
      row[k] += log_weights[k];
      // ndarray.max propagates NaN.
      if (std::isnan(row[k]) || std::isnan(max_value)) {
        max_value = std::numeric_limits<double>::quiet_NaN();
      } else {
        max_value = std::max(max_value, row[k]);
      }
    }
    if (max_value == -kInf) max_value = 0;
    for (size_t k = 0; k < n_kernels; ++k) {
      // exp of anything below −746 rounds to +0; skip libm's slow underflow path.
      const double v = row[k] - max_value;
      shifted[k] = v < -746.0 ? 0.0 : std::exp(v);
    }
    result[s] = std::log(numpy_pairwise_sum(shifted.data(), n_kernels)) + max_value;
  }
  return result;
}

}  // namespace

std::vector<double> default_tpe_weights(size_t n) {
  if (n == 0) return {};
  if (n < 25) return std::vector<double>(n, 1.0);
  std::vector<double> weights = linspace(1.0 / static_cast<double>(n), 1.0, n - 25);
  weights.resize(n, 1.0);
  return weights;
}

ParzenEstimator::ParzenEstimator(const std::vector<ParamSpec>& space, const PointBatch& observations,
                                 const ParzenEstimatorOptions& options, std::optional<std::vector<double>> raw_weights) {
  ABL_CHECK(options.prior_weight >= 0, InputError, "TPE: prior_weight must be >= 0, got {}", options.prior_weight);
  ABL_ASSERT(observations.size() == space.size(), "Parzen estimator: {} observation columns for {} parameters",
             observations.size(), space.size());
  const size_t n_observations = observations.empty() ? 0 : observations.front().size();
  for (const auto& column : observations) {
    ABL_ASSERT(column.size() == n_observations, "Parzen estimator: ragged observations");
  }
  std::vector<double> weights = raw_weights ? std::move(*raw_weights) : default_tpe_weights(n_observations);
  ABL_ASSERT(weights.size() == n_observations, "Parzen estimator: {} weights for {} observations", weights.size(),
             n_observations);
  if (n_observations == 0) {
    weights = {1.0};
  } else {
    weights.push_back(options.prior_weight);
  }
  const double total = numpy_pairwise_sum(weights.data(), weights.size());
  for (double& w : weights) w /= total;
  weights_ = std::move(weights);

  dims_.reserve(space.size());
  for (size_t d = 0; d < space.size(); ++d) {
    if (const auto* c = std::get_if<CategoricalDistribution>(&space[d].distribution)) {
      dims_.push_back(categorical_dimension(*c, observations[d], options));
    } else {
      dims_.push_back(numerical_dimension(space[d].distribution, observations[d], options));
    }
  }
}

ParzenEstimator::Dimension ParzenEstimator::categorical_dimension(const CategoricalDistribution& distribution,
                                                                  const std::vector<double>& observations,
                                                                  const ParzenEstimatorOptions& options) {
  Dimension dim;
  dim.is_categorical = true;
  dim.n_choices = distribution.choices.size();
  const size_t n_choices = dim.n_choices;
  if (observations.empty()) {
    dim.choice_weights.assign(n_choices, 1.0 / static_cast<double>(n_choices));
    return dim;
  }
  const size_t n_kernels = observations.size() + 1;
  dim.choice_weights.assign(n_kernels * n_choices, options.prior_weight / static_cast<double>(n_kernels));
  for (size_t i = 0; i < observations.size(); ++i) {
    const auto choice = static_cast<size_t>(static_cast<int64_t>(observations[i]));
    ABL_ASSERT(choice < n_choices, "categorical observation {} out of range", observations[i]);
    dim.choice_weights[i * n_choices + choice] += 1;
  }
  for (size_t k = 0; k < n_kernels; ++k) {
    double* row = &dim.choice_weights[k * n_choices];
    double row_sum = numpy_pairwise_sum(row, n_choices);
    if (row_sum == 0) row_sum = 1;
    for (size_t c = 0; c < n_choices; ++c) row[c] /= row_sum;
  }
  return dim;
}

ParzenEstimator::Dimension ParzenEstimator::numerical_dimension(const Distribution& distribution,
                                                                const std::vector<double>& observations,
                                                                const ParzenEstimatorOptions& options) {
  Dimension dim;
  double low = 0;
  double high = 0;
  if (const auto* f = std::get_if<FloatDistribution>(&distribution)) {
    dim.low = f->low;
    dim.high = f->high;
    dim.step = f->step.value_or(0.0);
    dim.is_log = f->log;
  } else {
    const auto& i = std::get<IntDistribution>(distribution);
    dim.low = static_cast<double>(i.low);
    dim.high = static_cast<double>(i.high);
    dim.step = static_cast<double>(i.step);
    dim.is_log = i.log;
  }
  low = dim.low;
  high = dim.high;
  if (dim.step != 0) {
    low -= dim.step / 2;
    high += dim.step / 2;
  }
  std::vector<double> mus = observations;
  if (dim.is_log) {
    for (double& m : mus) m = std::log(m);
    low = std::log(low);
    high = std::log(high);
  }
  dim.adapted_low = low;
  dim.adapted_high = high;

  // Bandwidths: the larger gap to a sorted neighbour, the domain ends as
  // outer neighbours (spec §1.4). Ties keep observation order (a stable
  // sort); numpy's SIMD argsort orders ties by platform, so Optuna itself
  // differs between machines there (tests/reference/make_tpe_fixtures.py
  // checks that no fixture depends on it).
  const size_t n = mus.size();
  std::vector<double> sigmas(n);
  if (n > 0) {
    // (value, index) pairs: a stable order by value, faster than stable_sort.
    std::vector<std::pair<double, size_t>> keyed(n);
    for (size_t k = 0; k < n; ++k) keyed[k] = {mus[k], k};
    std::sort(keyed.begin(), keyed.end());
    std::vector<size_t> order(n);
    for (size_t k = 0; k < n; ++k) order[k] = keyed[k].second;
    std::vector<double> with_ends(n + 2);
    with_ends[0] = low;
    for (size_t k = 0; k < n; ++k) with_ends[k + 1] = mus[order[k]];
    with_ends[n + 1] = high;
    std::vector<double> sorted_sigmas(n);
    for (size_t k = 0; k < n; ++k) {
      sorted_sigmas[k] = std::max(with_ends[k + 1] - with_ends[k], with_ends[k + 2] - with_ends[k + 1]);
    }
    if (!options.consider_endpoints && n + 2 >= 4) {
      sorted_sigmas[0] = with_ends[2] - with_ends[1];
      sorted_sigmas[n - 1] = with_ends[n] - with_ends[n - 1];
    }
    const double max_sigma = high - low;
    const double min_sigma = options.consider_magic_clip
                                 ? (high - low) / std::min(100.0, 1.0 + static_cast<double>(n + 1))
                                 : kEps;
    for (size_t k = 0; k < n; ++k) sigmas[order[k]] = std::min(std::max(sorted_sigmas[k], min_sigma), max_sigma);
  }
  mus.push_back(0.5 * (low + high));
  sigmas.push_back(high - low);
  dim.mu = std::move(mus);
  dim.sigma = std::move(sigmas);
  return dim;
}

PointBatch ParzenEstimator::sample(NumpyRandomState& rng, size_t size) const {
  const std::vector<int64_t> active = rng.choice(weights_, size);
  PointBatch points(dims_.size(), std::vector<double>(size));
  std::vector<size_t> numerical;
  for (size_t d = 0; d < dims_.size(); ++d) {
    const Dimension& dim = dims_[d];
    if (!dim.is_categorical) {
      numerical.push_back(d);
      continue;
    }
    const bool has_kernels = dim.choice_weights.size() > dim.n_choices;
    for (size_t s = 0; s < size; ++s) {
      const double u = rng.random_sample();
      const size_t row = has_kernels ? static_cast<size_t>(active[s]) : 0;
      points[d][s] = static_cast<double>(categorical_pick(&dim.choice_weights[row * dim.n_choices], dim.n_choices, u));
    }
  }
  if (numerical.empty()) return points;

  // One block of uniforms, dimension-major, then one batched ppf.
  const size_t total = numerical.size() * size;
  std::vector<double> q(total), a(total), b(total), x(total);
  for (size_t j = 0; j < numerical.size(); ++j) {
    for (size_t s = 0; s < size; ++s) q[j * size + s] = rng.uniform(0.0, 1.0);
  }
  for (size_t j = 0; j < numerical.size(); ++j) {
    const Dimension& dim = dims_[numerical[j]];
    for (size_t s = 0; s < size; ++s) {
      const auto k = static_cast<size_t>(active[s]);
      a[j * size + s] = (dim.adapted_low - dim.mu[k]) / dim.sigma[k];
      b[j * size + s] = (dim.adapted_high - dim.mu[k]) / dim.sigma[k];
    }
  }
  truncnorm::ppf(q, a, b, x);
  for (size_t j = 0; j < numerical.size(); ++j) {
    const Dimension& dim = dims_[numerical[j]];
    for (size_t s = 0; s < size; ++s) {
      const auto k = static_cast<size_t>(active[s]);
      double v = x[j * size + s] * dim.sigma[k] + dim.mu[k];
      if (dim.is_log) v = std::exp(v);
      if (dim.step != 0) {
        v = std::min(std::max(dim.low + std::nearbyint((v - dim.low) / dim.step) * dim.step, dim.low), dim.high);
      }
      points[numerical[j]][s] = v;
    }
  }
  return points;
}

std::vector<double> ParzenEstimator::log_pdf(const PointBatch& points) const {
  ABL_ASSERT(points.size() == dims_.size(), "log_pdf: {} columns for {} dimensions", points.size(), dims_.size());
  const size_t n_points = points.empty() ? 0 : points.front().size();
  const size_t n_kernels = weights_.size();
  // Reused between calls: fresh multi-megabyte buffers cost page faults.
  static thread_local std::vector<double> weighted;
  weighted.assign(n_points * n_kernels, 0.0);

  // Categorical and discrete dimensions in order, then the continuous ones
  // together: numpy's order of additions into the same sums.
  std::vector<size_t> continuous;
  for (size_t d = 0; d < dims_.size(); ++d) {
    const Dimension& dim = dims_[d];
    if (dim.is_categorical) {
      add_categorical_log_pdf(dim, points[d], n_points, n_kernels, weighted);
    } else if (dim.step == 0) {
      continuous.push_back(d);
    } else {
      add_discrete_log_pdf(dim, points[d], n_points, n_kernels, weighted);
    }
  }
  if (!continuous.empty()) add_continuous_log_pdf(continuous, points, n_points, weighted);
  return log_mixture(weighted, weights_, n_points);
}

void ParzenEstimator::add_categorical_log_pdf(const Dimension& dim, const std::vector<double>& xs, size_t n_points,
                                              size_t n_kernels, std::vector<double>& weighted) {
  const bool has_kernels = dim.choice_weights.size() > dim.n_choices;
  std::vector<double> log_weights(dim.choice_weights.size());
  for (size_t i = 0; i < log_weights.size(); ++i) log_weights[i] = std::log(dim.choice_weights[i]);
  for (size_t s = 0; s < n_points; ++s) {
    const auto choice = static_cast<size_t>(static_cast<int64_t>(xs[s]));
    for (size_t k = 0; k < n_kernels; ++k) {
      const size_t row = has_kernels ? k : 0;
      weighted[s * n_kernels + k] += log_weights[row * dim.n_choices + choice];
    }
  }
}

// The mass of the cell around each point, over the mass of the domain,
// evaluated for unique points against unique kernels as Optuna does.
void ParzenEstimator::add_discrete_log_pdf(const Dimension& dim, const std::vector<double>& xs, size_t n_points,
                                           size_t n_kernels, std::vector<double>& weighted) {
  const std::vector<double> x_unique = sorted_unique(xs);
  std::vector<std::pair<double, double>> kernels(n_kernels);
  for (size_t k = 0; k < n_kernels; ++k) kernels[k] = {dim.mu[k], dim.sigma[k]};
  const std::vector<std::pair<double, double>> kernels_unique = sorted_unique(std::move(kernels));
  const size_t nx = x_unique.size();
  const size_t nk = kernels_unique.size();
  std::vector<double> left(nx * nk), right(nx * nk), mass(nx * nk);
  for (size_t i = 0; i < nx; ++i) {
    const double l = dim.is_log ? std::log(x_unique[i] - dim.step / 2) : x_unique[i] - dim.step / 2;
    const double r = dim.is_log ? std::log(x_unique[i] + dim.step / 2) : x_unique[i] + dim.step / 2;
    for (size_t j = 0; j < nk; ++j) {
      left[i * nk + j] = (l - kernels_unique[j].first) / kernels_unique[j].second;
      right[i * nk + j] = (r - kernels_unique[j].first) / kernels_unique[j].second;
    }
  }
  log_gauss_mass_deduplicated(left, right, mass);
  std::vector<double> norm_a(nk), norm_b(nk), norm(nk);
  for (size_t j = 0; j < nk; ++j) {
    norm_a[j] = (dim.adapted_low - kernels_unique[j].first) / kernels_unique[j].second;
    norm_b[j] = (dim.adapted_high - kernels_unique[j].first) / kernels_unique[j].second;
  }
  truncnorm::log_gauss_mass(norm_a, norm_b, norm);
  std::vector<size_t> kernel_slot(n_kernels);
  for (size_t k = 0; k < n_kernels; ++k) {
    kernel_slot[k] = static_cast<size_t>(
        std::lower_bound(kernels_unique.begin(), kernels_unique.end(), std::pair{dim.mu[k], dim.sigma[k]}) -
        kernels_unique.begin());
  }
  for (size_t s = 0; s < n_points; ++s) {
    const auto xi = static_cast<size_t>(std::lower_bound(x_unique.begin(), x_unique.end(), xs[s]) - x_unique.begin());
    for (size_t k = 0; k < n_kernels; ++k) weighted[s * n_kernels + k] += mass[xi * nk + kernel_slot[k]];
  }
  for (size_t s = 0; s < n_points; ++s) {
    for (size_t k = 0; k < n_kernels; ++k) weighted[s * n_kernels + k] -= norm[kernel_slot[k]];
  }
}

// The continuous dimensions' kernels, dimension-major: entry j·n_kernels + k
// is kernel k of the j-th continuous dimension.
struct ParzenEstimator::ContinuousKernels {
  std::vector<double> mu;
  std::vector<double> sigma;
  std::vector<double> a;          // the domain's bounds, standardized: (adapted_low − μ)/σ
  std::vector<double> b;          // (adapted_high − μ)/σ
  std::vector<double> mass;       // log(Φ(b) − Φ(a)): the kernel's log mass inside the domain
  std::vector<double> log_sigma;  // log σ
};

ParzenEstimator::ContinuousKernels ParzenEstimator::continuous_kernels(const std::vector<size_t>& continuous) const {
  const size_t nd = continuous.size();
  const size_t n_kernels = weights_.size();
  ContinuousKernels kernels;
  kernels.mu.resize(nd * n_kernels);
  kernels.sigma.resize(nd * n_kernels);
  kernels.a.resize(nd * n_kernels);
  kernels.b.resize(nd * n_kernels);
  kernels.log_sigma.resize(nd * n_kernels);
  std::vector<double> mass_kd(n_kernels * nd), a_kd(n_kernels * nd), b_kd(n_kernels * nd);
  for (size_t j = 0; j < nd; ++j) {
    const Dimension& dim = dims_[continuous[j]];
    for (size_t k = 0; k < n_kernels; ++k) {
      const size_t at = j * n_kernels + k;
      kernels.mu[at] = dim.mu[k];
      kernels.sigma[at] = dim.sigma[k];
      kernels.a[at] = (dim.adapted_low - kernels.mu[at]) / kernels.sigma[at];
      kernels.b[at] = (dim.adapted_high - kernels.mu[at]) / kernels.sigma[at];
      kernels.log_sigma[at] = std::log(kernels.sigma[at]);
      // Optuna's batch is (kernel, dimension), row-major.
      a_kd[k * nd + j] = kernels.a[at];
      b_kd[k * nd + j] = kernels.b[at];
    }
  }
  truncnorm::log_gauss_mass(a_kd, b_kd, mass_kd);
  kernels.mass.resize(nd * n_kernels);
  for (size_t j = 0; j < nd; ++j) {
    for (size_t k = 0; k < n_kernels; ++k) kernels.mass[j * n_kernels + k] = mass_kd[k * nd + j];
  }
  return kernels;
}

void ParzenEstimator::add_continuous_log_pdf(const std::vector<size_t>& continuous, const PointBatch& points,
                                             size_t n_points, std::vector<double>& weighted) const {
  const size_t nd = continuous.size();
  const size_t n_kernels = weights_.size();
  const ContinuousKernels kernels = continuous_kernels(continuous);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  static thread_local std::vector<double> terms;
  static thread_local std::vector<double> sums;
  terms.resize(nd * n_kernels);
  sums.resize(n_kernels);
  for (size_t s = 0; s < n_points; ++s) {
    for (size_t j = 0; j < nd; ++j) {
      const Dimension& dim = dims_[continuous[j]];
      const double x = dim.is_log ? std::log(points[continuous[j]][s]) : points[continuous[j]][s];
      const size_t base = j * n_kernels;
      const double* __restrict mu_j = &kernels.mu[base];
      const double* __restrict sigma_j = &kernels.sigma[base];
      const double* __restrict a_j = &kernels.a[base];
      const double* __restrict b_j = &kernels.b[base];
      const double* __restrict mass_j = &kernels.mass[base];
      const double* __restrict log_sigma_j = &kernels.log_sigma[base];
      double* __restrict terms_j = &terms[base];
      // Branch-free passes so that they vectorize; the same operations in
      // the same order as _truncnorm.logpdf.
      for (size_t k = 0; k < n_kernels; ++k) {
        const double z = (x - mu_j[k]) / sigma_j[k];
        const double term = truncnorm::norm_logpdf(z) - mass_j[k] - log_sigma_j[k];
        const bool outside = (z < a_j[k]) | (z > b_j[k]);
        terms_j[k] = outside ? -kInf : term;
      }
      // a == b only for a one-value domain (never sampled: single()).
      if (dim.adapted_low == dim.adapted_high) std::fill(terms_j, terms_j + n_kernels, nan);
    }
    numpy_pairwise_sum_columns(terms.data(), nd, n_kernels, sums.data());
    double* row = &weighted[s * n_kernels];
    for (size_t k = 0; k < n_kernels; ++k) row[k] += sums[k];
  }
}

}  // namespace abliterate::study
