// Optuna's RandomSampler over a numpy-compatible MT19937 stream
// (spec/optuna-compat.md §2). Same seed, same call order: same values.
#pragma once

#include <cstdint>
#include <vector>

#include "abliterate/study/distribution.hpp"
#include "abliterate/study/numpy_random_state.hpp"
#include "abliterate/study/search_space.hpp"

namespace abliterate::study {

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
