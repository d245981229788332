// fused_rms_norm, fused_rotary, fused_attention_probs, fused_gated_activation:
// see include/abliterate/model/fused_steps.hpp.
#include "abliterate/model/fused_steps.hpp"

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "abliterate/common/error.hpp"
#include "abliterate/model/decoder.hpp"
#include "lane_math.hpp"

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

// Row kernels over float32, compiled per CPU (lane_math.hpp). Each loop
// computes one thing: with e^x's clamp and a division in one loop, GCC's jump
// threading computed x / (1 + e^88) for every lane, a denormal per value and
// a microcode assist each (10x slower).

// Softmax over v[0, n) in place, v holding -inf where blocked[k] != 0 and
// those entries left exactly 0: e^(v - max), their sum, times its reciprocal,
// as LibTorch's softmax over the last dimension.
ABL_LANES_PER_CPU void softmax_row(float* v, const uint8_t* blocked, int64_t n) {
  const float largest = lane_math::largest(v, n);
  for (int64_t k = 0; k < n; ++k) {
    const float exponential = lane_math::exp(v[k] - largest);
    v[k] = blocked[k] != 0 ? 0.0f : exponential;  // both sides computed: no branch
  }
  const float reciprocal = 1.0f / lane_math::sum(v, n);
  for (int64_t k = 0; k < n; ++k) v[k] *= reciprocal;
}

// GELU's tanh form as LibTorch's kernel writes it, 0.5 x (1 + tanh(sqrt(2 / pi)
// (x + 0.044715 x^3))), and SiLU, x / (1 + e^-x); `scratch` holds n floats.
ABL_LANES_PER_CPU void gelu_tanh_row(const float* x, float* out, float* scratch, int64_t n) {
  constexpr float kBeta = static_cast<float>(M_SQRT2 * M_2_SQRTPI * 0.5);
  constexpr float kKappa = 0.044715f;
  for (int64_t k = 0; k < n; ++k) scratch[k] = lane_math::tanh(kBeta * (x[k] + kKappa * (x[k] * x[k] * x[k])));
  for (int64_t k = 0; k < n; ++k) out[k] = 0.5f * x[k] * (1.0f + scratch[k]);
}

ABL_LANES_PER_CPU void silu_row(const float* x, float* out, float* scratch, int64_t n) {
  for (int64_t k = 0; k < n; ++k) scratch[k] = lane_math::exp(-x[k]);
  for (int64_t k = 0; k < n; ++k) out[k] = x[k] / (1.0f + scratch[k]);
}

template <typename T>
void attention_probs_rows(const torch::Tensor& scores, const torch::Tensor& blocked, float scaling, torch::Tensor& out) {
  const int64_t n_heads = scores.size(1), n_queries = scores.size(2), n_keys = scores.size(3);
  const T* in = scores.data_ptr<T>();
  // Read as bytes (a bool is one, 0 or 1): GCC's vectorizer does not select on a loaded bool.
  const auto* mask = reinterpret_cast<const uint8_t*>(blocked.data_ptr<bool>());
  T* o = out.data_ptr<T>();
  const int64_t mask_b = blocked.stride(0), mask_t = blocked.stride(2);
  at::parallel_for(0, scores.numel() / std::max<int64_t>(n_keys, 1), kRowGrain, [&](int64_t begin, int64_t end) {
    std::vector<float> values(static_cast<size_t>(n_keys));
    float* v = values.data();
    for (int64_t row = begin; row < end; ++row) {
      const int64_t b = row / (n_heads * n_queries), t = row % n_queries;
      const T* s = in + row * n_keys;
      const uint8_t* is_blocked = mask + b * mask_b + t * mask_t;
      T* p = o + row * n_keys;
      // scores * scaling in T, then float32 with the blocked keys at -inf.
      for (int64_t k = 0; k < n_keys; ++k) {
        const float scaled = widen(narrow_to<T>(widen(s[k]) * scaling));
        v[k] = is_blocked[k] != 0 ? -std::numeric_limits<float>::infinity() : scaled;
      }
      softmax_row(v, is_blocked, n_keys);
      for (int64_t k = 0; k < n_keys; ++k) p[k] = narrow_to<T>(v[k]);
    }
  });
}

template <typename T>
void gated_activation_rows(const T* gate_up, T* out, int64_t n_rows, int64_t width, MlpActivation activation) {
  at::parallel_for(0, n_rows, kRowGrain, [&](int64_t begin, int64_t end) {
    std::vector<float> buffers(static_cast<size_t>(3 * width));
    float* activated = buffers.data();
    float* scratch = activated + width;
    float* widened = scratch + width;  // bfloat16 gates in float32
    for (int64_t row = begin; row < end; ++row) {
      const T* in = gate_up + row * 2 * width;
      const T* up = in + width;
      T* o = out + row * width;
      const float* gate = widened;
      if constexpr (std::is_same_v<T, float>) {
        gate = in;
      } else {
        for (int64_t k = 0; k < width; ++k) widened[k] = widen(in[k]);
      }
      if (activation == MlpActivation::gelu_tanh) {
        gelu_tanh_row(gate, activated, scratch, width);
      } else {
        silu_row(gate, activated, scratch, width);
      }
      // The activation rounded to T, then its product with up rounded to T: LibTorch's gelu or silu, then mul.
      for (int64_t k = 0; k < width; ++k) o[k] = narrow_to<T>(widen(narrow_to<T>(activated[k])) * widen(up[k]));
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

torch::Tensor fused_attention_probs(const torch::Tensor& scores, const torch::Tensor& blocked, double scaling,
                                    double softcapping) {
  ABL_ASSERT(scores.dim() == 4 && blocked.dim() == 4 && blocked.size(1) == 1 && blocked.size(3) == scores.size(3),
             "attention probabilities take scores [B, H, T, S] and blocked [B, 1, T, S]");
  const torch::Tensor mask = blocked.expand({scores.size(0), 1, scores.size(2), scores.size(3)});
  if (!runs_fused(scores) || softcapping > 0 || mask.scalar_type() != torch::kBool || mask.stride(3) != 1) {
    torch::Tensor capped = scores * scaling;
    if (softcapping > 0) capped = torch::tanh(capped / softcapping) * softcapping;
    capped = capped.to(torch::kFloat32).masked_fill(blocked, -std::numeric_limits<float>::infinity());
    return torch::softmax(capped, -1).to(scores.scalar_type());
  }
  const torch::Tensor in = scores.contiguous();
  torch::Tensor out = torch::empty_like(in);
  if (in.numel() == 0) return out;
  if (in.scalar_type() == torch::kFloat32) {
    attention_probs_rows<float>(in, mask, static_cast<float>(scaling), out);
  } else {
    attention_probs_rows<c10::BFloat16>(in, mask, static_cast<float>(scaling), out);
  }
  return out;
}

torch::Tensor fused_gated_activation(const torch::Tensor& gate_up, MlpActivation activation) {
  const int64_t width = gate_up.size(-1) / 2;
  ABL_ASSERT(gate_up.size(-1) == 2 * width, "gate_up's last dimension must be even, not {}", gate_up.size(-1));
  if (!runs_fused(gate_up)) {
    const torch::Tensor gate = gate_up.narrow(-1, 0, width);
    const torch::Tensor activated =
        activation == MlpActivation::gelu_tanh ? torch::gelu(gate, "tanh") : torch::silu(gate);
    return activated * gate_up.narrow(-1, width, width);
  }
  const torch::Tensor in = gate_up.contiguous();
  std::vector<int64_t> sizes = in.sizes().vec();
  sizes.back() = width;
  torch::Tensor out = torch::empty(sizes, in.options());
  const int64_t n_rows = width == 0 ? 0 : in.numel() / (2 * width);
  if (in.scalar_type() == torch::kFloat32) {
    gated_activation_rows(in.data_ptr<float>(), out.data_ptr<float>(), n_rows, width, activation);
  } else {
    gated_activation_rows(in.data_ptr<c10::BFloat16>(), out.data_ptr<c10::BFloat16>(), n_rows, width, activation);
  }
  return out;
}

}  // namespace abliterate::model
