// Float32 math written for GCC's vectorizer (the files that use it are built
// at -O3 -fno-trapping-math): e^x and tanh as straight-line code, where
// std::exp and std::tanh are library calls, one value each; the largest and
// the sum of an array in 16 running lanes, as the vectorizer does not reorder
// a float reduction itself. e^x and tanh are Cephes' single-precision
// algorithms (Moshier), within 2 ulps of the true value over the range the
// decoder's steps reach; LibTorch's own kernels (Sleef, 1 ulp) may differ from
// them in the last bit or two.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

// A row kernel compiled three times (target_clones) and chosen at load for
// the CPU: AVX-512, AVX2 with FMA, or plain x86-64, which the build targets;
// the functions below inline into each, 16, 8 or 4 values per instruction.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define ABL_LANES_PER_CPU __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define ABL_LANES_PER_CPU
#endif

namespace abliterate::model::lane_math {

// e^x for finite x; below -86.5 the result is e^-86.5 (2.7e-38) rather than a
// denormal or 0, above 88 it is e^88 (1.7e38) rather than infinity: no caller
// can tell either from the true value once it is added to 1 or to a softmax's
// sum of at least 1. No result is a denormal, which would cost a microcode
// assist per value (the masked keys of a prefill are half its scores). NaN
// stays NaN.
inline float exp(float x) {
  x = std::max(std::min(x, 88.0f), -86.5f);  // n below in [-125, 127]: p 2^n a normal float
  // x = n ln 2 + r, |r| <= ln 2 / 2, n rounded to nearest by the 1.5 * 2^23 trick (no SSE4.1 round needed).
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;  // ln 2 in two parts, the first exact in float
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const float two_to_n = std::bit_cast<float>((static_cast<int32_t>(n) + 127) << 23);
  return p * two_to_n;
}

// tanh(x): an odd polynomial below |x| = 0.625, 1 - 2 / (e^2|x| + 1) with x's
// sign above it.
inline float tanh(float x) {
  const float z = x * x;
  float small = -5.70498872745e-3f;
  small = small * z + 2.06390887954e-2f;
  small = small * z - 5.37397155531e-2f;
  small = small * z + 1.33314422036e-1f;
  small = small * z - 3.33332819422e-1f;
  small = small * z * x + x;
  const float magnitude = std::fabs(x);
  const float large = std::copysign(1.0f - 2.0f / (lane_math::exp(2.0f * magnitude) + 1.0f), x);
  return magnitude < 0.625f ? small : large;
}

// The largest of values[0, n): -inf for n = 0; a NaN is passed over.
inline float largest(const float* values, int64_t n) {
  std::array<float, 16> lanes;
  lanes.fill(-std::numeric_limits<float>::infinity());
  int64_t k = 0;
  for (; k + 16 <= n; k += 16) {
    for (size_t j = 0; j < 16; ++j) lanes[j] = values[k + j] > lanes[j] ? values[k + j] : lanes[j];
  }
  for (size_t j = 0; k < n; ++k, ++j) lanes[j] = values[k] > lanes[j] ? values[k] : lanes[j];
  float m = lanes[0];
  for (const float lane : lanes) m = lane > m ? lane : m;
  return m;
}

// The sum of values[0, n), in 16 running sums added at the end.
inline float sum(const float* values, int64_t n) {
  std::array<float, 16> lanes{};
  int64_t k = 0;
  for (; k + 16 <= n; k += 16) {
    for (size_t j = 0; j < 16; ++j) lanes[j] += values[k + j];
  }
  for (size_t j = 0; k < n; ++k, ++j) lanes[j] += values[k];
  float total = 0;
  for (const float lane : lanes) total += lane;
  return total;
}

}  // namespace abliterate::model::lane_math
