// numpy's float64 sum (np.sum / ndarray.sum along one axis): pairwise
// summation with eight accumulators in blocks of up to 128 values. The TPE
// port sums in this order so that its densities round as Optuna's do.
#pragma once

#include <cstddef>
#include <vector>

namespace abliterate::study {

// numpy's DOUBLE_pairwise_sum over a[0], a[stride], ..., a[(n-1)·stride].
inline double numpy_pairwise_sum(const double* a, size_t n, size_t stride = 1) {
  if (n < 8) {
    double res = 0.;
    for (size_t i = 0; i < n; ++i) res += a[i * stride];
    return res;
  }
  if (n <= 128) {
    double r[8];
    for (size_t j = 0; j < 8; ++j) r[j] = a[j * stride];
    size_t i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (size_t j = 0; j < 8; ++j) r[j] += a[(i + j) * stride];
    }
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i * stride];
    return res;
  }
  size_t n2 = n / 2;
  n2 -= n2 % 8;
  return numpy_pairwise_sum(a, n2, stride) + numpy_pairwise_sum(a + n2 * stride, n - n2, stride);
}

// numpy_pairwise_sum down each of `n_columns` columns of a row-major
// n_rows × n_columns array (numpy's sum over axis 0 of its transpose, i.e.
// over the last axis of the original), columns in lockstep so the loops
// vectorize.
inline void numpy_pairwise_sum_columns(const double* a, size_t n_rows, size_t n_columns, double* out) {
  if (n_rows < 8) {
    for (size_t c = 0; c < n_columns; ++c) out[c] = 0.;
    for (size_t i = 0; i < n_rows; ++i) {
      const double* row = a + i * n_columns;
      for (size_t c = 0; c < n_columns; ++c) out[c] += row[c];
    }
    return;
  }
  if (n_rows > 128) {
    for (size_t c = 0; c < n_columns; ++c) out[c] = numpy_pairwise_sum(a + c, n_rows, n_columns);
    return;
  }
  // Eight accumulator rows, then the tree, then the rest, all across columns.
  std::vector<double> r(a, a + 8 * n_columns);
  size_t i = 8;
  for (; i < n_rows - (n_rows % 8); i += 8) {
    for (size_t j = 0; j < 8; ++j) {
      const double* row = a + (i + j) * n_columns;
      double* acc = r.data() + j * n_columns;
      for (size_t c = 0; c < n_columns; ++c) acc[c] += row[c];
    }
  }
  const double* r0 = r.data();
  const size_t w = n_columns;
  for (size_t c = 0; c < n_columns; ++c) {
    out[c] = ((r0[c] + r0[w + c]) + (r0[2 * w + c] + r0[3 * w + c])) +
             ((r0[4 * w + c] + r0[5 * w + c]) + (r0[6 * w + c] + r0[7 * w + c]));
  }
  for (; i < n_rows; ++i) {
    const double* row = a + i * n_columns;
    for (size_t c = 0; c < n_columns; ++c) out[c] += row[c];
  }
}

}  // namespace abliterate::study
