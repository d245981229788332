// Optuna's RandomSampler (spec/optuna-compat.md §2).
#include "abliterate/study/random_sampler.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "abliterate/common/error.hpp"

namespace abliterate::study {
namespace {

// numpy.round: round half to even. std::nearbyint does that under the
// default FE_TONEAREST rounding mode, which nothing in abliterate changes.
double round_half_even(double x) { return std::nearbyint(x); }

// Optuna's _untransform_numerical_param for floats without step: never return
// `high` itself (the sample lies in [low, high)).
double below_high(double x, double high) {
  return std::min(x, std::nextafter(high, -std::numeric_limits<double>::infinity()));
}

}  // namespace

// Optuna's RandomSampler.sample_independent builds a one-parameter
// _SearchSpaceTransform (log and step transforms on), draws rng.uniform over
// its bounds and untransforms. Note: the spec (§2) writes the int rounding as
// floor(x + 0.5); Optuna's source uses np.round (half to even). The two differ
// only when (x − low)/step lands exactly on .5, which a 53-bit draw almost
// never does; we follow the source.
double RandomSampler::sample(const Distribution& distribution) {
  if (const auto* f = std::get_if<FloatDistribution>(&distribution)) {
    const bool is_single = f->low == f->high;
    if (f->log) {
      const double x = std::exp(rng_.uniform(std::log(f->low), std::log(f->high)));
      return is_single ? x : below_high(x, f->high);
    }
    if (f->step) {
      const double step = *f->step;
      const double x = rng_.uniform(f->low - 0.5 * step, f->high + 0.5 * step);
      return std::clamp(round_half_even((x - f->low) / step) * step + f->low, f->low, f->high);
    }
    const double x = rng_.uniform(f->low, f->high);
    return is_single ? x : below_high(x, f->high);
  }
  if (const auto* i = std::get_if<IntDistribution>(&distribution)) {
    const auto low = static_cast<double>(i->low);
    const auto high = static_cast<double>(i->high);
    if (i->log) {
      // Int-log bounds widen by half a step (always 1) before the log.
      const double x = rng_.uniform(std::log(low - 0.5), std::log(high + 0.5));
      return std::clamp(round_half_even(std::exp(x)), low, high);
    }
    const auto step = static_cast<double>(i->step);
    const double x = rng_.uniform(low - 0.5 * step, high + 0.5 * step);
    return std::clamp(round_half_even((x - low) / step) * step + low, low, high);
  }
  // Categorical: one-hot encoded, so one uniform per choice; the first
  // largest wins (np.argmax).
  const auto& c = std::get<CategoricalDistribution>(distribution);
  ABL_ASSERT(!c.choices.empty(), "categorical distribution without choices");
  size_t best_idx = 0;
  double best = -1.0;
  for (size_t choice_idx = 0; choice_idx < c.choices.size(); ++choice_idx) {
    const double u = rng_.uniform(0.0, 1.0);
    if (u > best) {
      best = u;
      best_idx = choice_idx;
    }
  }
  return static_cast<double>(best_idx);
}

ParamValues RandomSampler::sample(const std::vector<ParamSpec>& space) {
  ParamValues values;
  values.reserve(space.size());
  for (const ParamSpec& spec : space) values.push_back(sample(spec.distribution));
  return values;
}

}  // namespace abliterate::study
