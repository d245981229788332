// numpy.random.RandomState (the legacy MT19937 generator) for the draws
// Optuna's samplers make, bit-compatible with numpy (spec/optuna-compat.md §2).
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace abliterate::study {

class NumpyRandomState {
 public:
  // RandomState(seed): init_genrand(seed), the same as std::mt19937(seed).
  explicit NumpyRandomState(uint32_t seed) : engine_(seed) {}

  // random_sample() / rand(): [0, 1) from 53 bits, two 32-bit outputs.
  double random_sample();
  // uniform(low, high) = low + (high − low)·u.
  double uniform(double low, double high) { return low + (high - low) * random_sample(); }
  // choice(len(p), p=p, size=size): cumulative sum of p normalised by its
  // last entry, then per draw the number of entries <= u (searchsorted
  // right). `p` must be non-empty with a positive total.
  std::vector<int64_t> choice(std::span<const double> p, size_t size);

 private:
  std::mt19937 engine_;
};

}  // namespace abliterate::study
