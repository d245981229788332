// numpy's legacy RandomState draws (spec/optuna-compat.md §2).
#include "abliterate/study/numpy_random_state.hpp"

#include <algorithm>

#include "abliterate/common/error.hpp"

namespace abliterate::study {
namespace {

// numpy's random_sample (randomkit's rk_double): 27 high bits of one output
// and 26 of the next make a 53-bit integer, scaled by 2^-53.
constexpr double kTwoPow26 = 67108864.0;
constexpr double kTwoPow53 = 9007199254740992.0;

}  // namespace

double NumpyRandomState::random_sample() {
  const uint32_t a = engine_() >> 5;
  const uint32_t b = engine_() >> 6;
  return (static_cast<double>(a) * kTwoPow26 + static_cast<double>(b)) / kTwoPow53;
}

std::vector<int64_t> NumpyRandomState::choice(std::span<const double> p, size_t size) {
  ABL_ASSERT(!p.empty(), "choice from an empty population");
  // p.cumsum() is a plain running sum; then cdf /= cdf[-1].
  std::vector<double> cdf(p.size());
  double running = 0.0;
  for (size_t idx = 0; idx < p.size(); ++idx) {
    running += p[idx];
    cdf[idx] = running;
  }
  const double total = cdf.back();
  ABL_ASSERT(total > 0, "choice with probabilities that sum to {}", total);
  for (double& c : cdf) c /= total;
  std::vector<int64_t> picks(size);
  for (size_t draw = 0; draw < size; ++draw) {
    const double u = random_sample();
    picks[draw] = std::upper_bound(cdf.begin(), cdf.end(), u) - cdf.begin();
  }
  return picks;
}

}  // namespace abliterate::study
