// Optuna's RandomSampler over a numpy-compatible MT19937 stream
// (spec/optuna-compat.md §2). Same seed, same call order: same values.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "abliterate/study/distribution.hpp"
#include "abliterate/study/search_space.hpp"

namespace abliterate::study {

// numpy.random.RandomState's uniform doubles from std::mt19937.
class NumpyRandomState {
 public:
  explicit NumpyRandomState(uint32_t seed) : engine_(seed) {}
  double random_sample();  // [0, 1), 53 bits, as numpy
  double uniform(double low, double high) { return low + (high - low) * random_sample(); }

 private:
  std::mt19937 engine_;
};

class RandomSampler {
 public:
  explicit RandomSampler(uint32_t seed) : rng_(seed) {}

  // One value in internal representation, consuming the stream as Optuna does.
  double sample(const Distribution& distribution);
  ParamValues sample(const std::vector<ParamSpec>& space);

 private:
  NumpyRandomState rng_;
};

}  // namespace abliterate::study
