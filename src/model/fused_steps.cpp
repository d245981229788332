// fused_rms_norm, fused_rotary: see include/abliterate/model/fused_steps.hpp.
#include "abliterate/model/fused_steps.hpp"

#include <array>
#include <cmath>

#include "abliterate/common/error.hpp"
#include "abliterate/model/decoder.hpp"

namespace abliterate::model {

namespace {

// Rows per task of at::parallel_for: a decode step's 32 rows in two tasks.
constexpr int64_t kRowGrain = 16;

// The float value of an element, and a float rounded back to the element's type.
template <typename T>
float widen(T value) {
  return static_cast<float>(value);
}
template <typename T>
T narrow_to(float value) {
  return static_cast<T>(value);  // c10::BFloat16 rounds to nearest even
}

// The sum of squares of n floats widened from T, in double (16 running sums).
template <typename T>
double sum_of_squares(const T* x, int64_t n) {
  std::array<double, 16> sums{};
  int64_t k = 0;
  for (; k + 16 <= n; k += 16) {
    for (int j = 0; j < 16; ++j) {
      const double v = widen(x[k + j]);
      sums[static_cast<size_t>(j)] += v * v;
    }
  }
  for (int j = 0; k < n; ++k, ++j) {
    const double v = widen(x[k]);
    sums[static_cast<size_t>(j)] += v * v;
  }
  double total = 0;
  for (const double s : sums) total += s;
  return total;
}

template <typename T>
void rms_norm_rows(const T* x, const T* weight, T* out, int64_t n_rows, int64_t n, float eps, NormGain gain) {
  std::vector<float> gains;  // Gemma: 1 + w in float32, once per call rather than once per row
  if (gain == NormGain::one_plus_weight) {
    gains.resize(static_cast<size_t>(n));
    for (int64_t k = 0; k < n; ++k) gains[static_cast<size_t>(k)] = 1.0f + widen(weight[k]);
  }
  at::parallel_for(0, n_rows, kRowGrain, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const T* in = x + row * n;
      T* o = out + row * n;
      const auto mean = static_cast<float>(sum_of_squares(in, n) / static_cast<double>(n));
      const float r = 1.0f / std::sqrt(mean + eps);
      if (gain == NormGain::one_plus_weight) {
        for (int64_t k = 0; k < n; ++k) o[k] = narrow_to<T>(widen(in[k]) * r * gains[static_cast<size_t>(k)]);
      } else {
        for (int64_t k = 0; k < n; ++k) o[k] = narrow_to<T>(widen(weight[k]) * widen(narrow_to<T>(widen(in[k]) * r)));
      }
    }
  });
}

template <typename T>
void rotary_rows(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin, torch::Tensor& out) {
  const int64_t batch = x.size(0), n_positions = x.size(1), n_heads = x.size(2), dim = x.size(3);
  const int64_t half = dim / 2;
  const T* in = x.data_ptr<T>();
  const T* c = cos.data_ptr<T>();
  const T* s = sin.data_ptr<T>();
  T* o = out.data_ptr<T>();
  const int64_t in_b = x.stride(0), in_t = x.stride(1), in_h = x.stride(2);
  at::parallel_for(0, batch * n_heads, 1, [&](int64_t begin, int64_t end) {
    for (int64_t bh = begin; bh < end; ++bh) {
      const int64_t b = bh / n_heads, h = bh % n_heads;
      for (int64_t t = 0; t < n_positions; ++t) {
        const T* xi = in + b * in_b + t * in_t + h * in_h;
        const T* ci = c + (b * n_positions + t) * dim;
        const T* si = s + (b * n_positions + t) * dim;
        T* oi = o + ((b * n_heads + h) * n_positions + t) * dim;
        // As x * cos + cat(-x2, x1) * sin, each product and the sum rounded to
        // T; the two halves in loops of their own, so that neither branches.
        const auto rotate = [&](int64_t k, float rotated) {
          const T a = narrow_to<T>(widen(xi[k]) * widen(ci[k]));
          const T b = narrow_to<T>(rotated * widen(si[k]));
          oi[k] = narrow_to<T>(widen(a) + widen(b));
        };
        for (int64_t k = 0; k < half; ++k) rotate(k, -widen(xi[k + half]));
        for (int64_t k = half; k < dim; ++k) rotate(k, widen(xi[k - half]));
      }
    }
  });
}

bool runs_fused(const torch::Tensor& x) {
  return x.device().is_cpu() && (x.scalar_type() == torch::kFloat32 || x.scalar_type() == torch::kBFloat16);
}

}  // namespace

torch::Tensor fused_rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps, NormGain gain) {
  if (!runs_fused(x) || weight.scalar_type() != x.scalar_type()) {
    return gain == NormGain::one_plus_weight ? gemma_rms_norm(x, weight, eps) : rms_norm(x, weight, eps);
  }
  const int64_t n = x.size(-1);
  ABL_ASSERT(weight.dim() == 1 && weight.size(0) == n, "norm weight [{}] for rows of {}", weight.size(0), n);
  const torch::Tensor in = x.contiguous();
  const torch::Tensor w = weight.contiguous();
  torch::Tensor out = torch::empty_like(in);
  const int64_t n_rows = n == 0 ? 0 : in.numel() / n;
  if (x.scalar_type() == torch::kFloat32) {
    rms_norm_rows(in.data_ptr<float>(), w.data_ptr<float>(), out.data_ptr<float>(), n_rows, n,
                  static_cast<float>(eps), gain);
  } else {
    rms_norm_rows(in.data_ptr<c10::BFloat16>(), w.data_ptr<c10::BFloat16>(), out.data_ptr<c10::BFloat16>(), n_rows,
                  n, static_cast<float>(eps), gain);
  }
  return out;
}

torch::Tensor fused_rotary(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  ABL_ASSERT(x.dim() == 4 && x.size(3) % 2 == 0, "rotary takes [B, T, H, D] with D even");
  if (!runs_fused(x) || x.stride(3) != 1 || !cos.is_contiguous() || !sin.is_contiguous() ||
      cos.scalar_type() != x.scalar_type()) {
    const torch::Tensor heads = x.transpose(1, 2);  // [B,H,T,D]
    const int64_t half = x.size(3) / 2;
    const torch::Tensor rotated = torch::cat({-heads.narrow(-1, half, half), heads.narrow(-1, 0, half)}, -1);
    return (heads * cos + rotated * sin).contiguous();
  }
  ABL_ASSERT(cos.size(0) == x.size(0) && cos.size(2) == x.size(1) && cos.size(3) == x.size(3),
             "rotary tables [B, 1, T, D] for x [B, T, H, D]");
  torch::Tensor out = torch::empty({x.size(0), x.size(2), x.size(1), x.size(3)}, x.options());  // [B,H,T,D]
  if (x.scalar_type() == torch::kFloat32) {
    rotary_rows<float>(x, cos, sin, out);
  } else {
    rotary_rows<c10::BFloat16>(x, cos, sin, out);
  }
  return out;
}

}  // namespace abliterate::model
