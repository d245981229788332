// The fused steps against the LibTorch operations they replace (decoder.hpp's
// rms_norm and gemma_rms_norm, x * cos + rotate_half(x) * sin, attention's
// scaled, masked softmax, and act(gate) * up): float32 and bfloat16,
// contiguous and strided inputs, every row count a decode step or a prefill
// passes.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <limits>
#include <string>

#include "abliterate/model/decoder.hpp"
#include "abliterate/model/fused_steps.hpp"

namespace abliterate::model {
namespace {

// The mean of squares is summed in double rather than float32: float32
// results within a few ulps, bfloat16 ones within one bfloat16 ulp (2^-8).
double norm_tolerance(torch::ScalarType dtype) { return dtype == torch::kFloat32 ? 1e-6 : 1.0 / 128; }

void expect_close(const torch::Tensor& actual, const torch::Tensor& expected, double tolerance, const std::string& what) {
  ASSERT_EQ(actual.sizes(), expected.sizes()) << what;
  ASSERT_EQ(actual.scalar_type(), expected.scalar_type()) << what;
  if (expected.numel() == 0) return;
  const torch::Tensor a = actual.to(torch::kFloat64);
  const torch::Tensor e = expected.to(torch::kFloat64);
  const double worst = ((a - e).abs() / e.abs().clamp_min(1e-3)).max().item<double>();
  EXPECT_LE(worst, tolerance) << what;
}

class FusedStepsTest : public ::testing::TestWithParam<torch::ScalarType> {};

TEST_P(FusedStepsTest, RmsNormEqualsTheLibTorchOperations) {
  const torch::ScalarType dtype = GetParam();
  torch::manual_seed(11);
  const torch::Tensor weight = (torch::randn({64}) * 0.3).to(dtype);
  for (const int64_t n_rows : {0, 1, 32, 77}) {
    const torch::Tensor x = (torch::randn({n_rows, 1, 64}) * 4).to(dtype);
    const std::string rows = std::to_string(n_rows) + " rows";
    expect_close(fused_rms_norm(x, weight, 1e-6, NormGain::weight), rms_norm(x, weight, 1e-6),
                 norm_tolerance(dtype), "Llama gain, " + rows);
    expect_close(fused_rms_norm(x, weight, 1e-6, NormGain::one_plus_weight), gemma_rms_norm(x, weight, 1e-6),
                 norm_tolerance(dtype), "Gemma gain, " + rows);
  }
  // Per head, as q_norm and k_norm take a strided view of the fused q/k/v product.
  const torch::Tensor qkv = (torch::randn({2, 3, 4 * 64}) * 2).to(dtype);
  const torch::Tensor heads = qkv.narrow(-1, 64, 2 * 64).view({2, 3, 2, 64});
  expect_close(fused_rms_norm(heads, weight, 1e-6, NormGain::weight), rms_norm(heads, weight, 1e-6),
               norm_tolerance(dtype), "strided heads");
}

TEST_P(FusedStepsTest, RotaryEqualsTheLibTorchOperationsExactly) {
  const torch::ScalarType dtype = GetParam();
  torch::manual_seed(12);
  for (const int64_t n_positions : {1, 9}) {
    // q and k as the decoder views them in the fused product: [B, T, H, D], strided.
    const torch::Tensor qkv = torch::randn({3, n_positions, (4 + 2 * 2) * 16}).to(dtype);
    const torch::Tensor q = qkv.narrow(-1, 0, 4 * 16).view({3, n_positions, 4, 16});
    const torch::Tensor k = qkv.narrow(-1, 4 * 16, 2 * 16).view({3, n_positions, 2, 16});
    const torch::Tensor angles = torch::rand({3, 1, n_positions, 16}) * 20;
    const torch::Tensor cos = angles.cos().to(dtype);
    const torch::Tensor sin = angles.sin().to(dtype);
    for (const torch::Tensor& x : {q, k}) {
      const torch::Tensor heads = x.transpose(1, 2);  // [B,H,T,D]
      const torch::Tensor rotated = torch::cat({-heads.narrow(-1, 8, 8), heads.narrow(-1, 0, 8)}, -1);
      const torch::Tensor expected = heads * cos + rotated * sin;
      const torch::Tensor actual = fused_rotary(x, cos, sin);
      EXPECT_TRUE(actual.is_contiguous());
      EXPECT_TRUE(torch::equal(actual, expected)) << "T = " << n_positions << ", H = " << x.size(2) << ": "
                                                  << (actual - expected).abs().max().item<float>();
    }
  }
}

// e^x and tanh are lane_math's (2 ulps) rather than Sleef's (1 ulp): float32
// probabilities and activations within a few ulps, bfloat16 ones within one
// bfloat16 ulp.
double lane_math_tolerance(torch::ScalarType dtype) { return dtype == torch::kFloat32 ? 2e-6 : 1.0 / 128; }

TEST_P(FusedStepsTest, AttentionProbabilitiesEqualTheLibTorchOperations) {
  const torch::ScalarType dtype = GetParam();
  torch::manual_seed(13);
  for (const int64_t n_queries : {1, 7}) {
    for (const int64_t n_keys : {1, 9, 40, 301}) {
      const torch::Tensor scores = (torch::randn({3, 4, n_queries, n_keys}) * 12).to(dtype);
      // Blocked keys as the decoder's masks have them, the last narrowed from a wider one
      // (a sliding layer's window); every row keeps its last key, as every query sees itself.
      torch::Tensor blocked = torch::rand({3, 1, n_queries, n_keys + 5}) < 0.4;
      blocked = blocked.narrow(3, 5, n_keys);
      blocked.select(3, n_keys - 1).fill_(false);
      const torch::Tensor expected =
          torch::softmax((scores * 0.125).to(torch::kFloat32).masked_fill(blocked, -std::numeric_limits<float>::infinity()), -1)
              .to(dtype);
      const std::string shape = "T = " + std::to_string(n_queries) + ", S = " + std::to_string(n_keys);
      const torch::Tensor actual = fused_attention_probs(scores, blocked, 0.125, 0);
      expect_close(actual, expected, lane_math_tolerance(dtype), shape);
      EXPECT_TRUE(torch::equal(actual.masked_select(blocked.expand_as(actual)),
                               torch::zeros({blocked.expand_as(actual).sum().item<int64_t>()}, dtype)))
          << "blocked keys get exactly 0, " << shape;
    }
  }
  // Softcapped (Gemma 2) as the same operations with the cap between the product and the mask.
  const torch::Tensor scores = (torch::randn({2, 2, 1, 33}) * 40).to(dtype);
  const torch::Tensor blocked = torch::zeros({2, 1, 1, 33}, torch::kBool);
  const torch::Tensor capped = torch::tanh(scores * 0.5 / 50.0) * 50.0;
  expect_close(fused_attention_probs(scores, blocked, 0.5, 50.0), torch::softmax(capped.to(torch::kFloat32), -1).to(dtype),
               lane_math_tolerance(dtype), "softcapped");
}

// act(gate) * up against LibTorch's float32 activation, rounded to the dtype,
// times up, rounded (PyTorch 2's bfloat16 kernels compute in float32;
// LibTorch 1.13's rounded each step of GELU's formula to bfloat16). Compared
// on the product's scale, 0.5 |gate| |up|: GELU's 1 + tanh(.) cancels for a
// negative gate, where two tanh within an ulp of each other give values close
// in that scale, not in their own.
TEST_P(FusedStepsTest, GatedActivationEqualsTheLibTorchOperations) {
  const torch::ScalarType dtype = GetParam();
  const double tolerance = dtype == torch::kFloat32 ? 2e-6 : 2.0 / 128;
  torch::manual_seed(14);
  for (const int64_t n_rows : {0, 1, 32, 77}) {
    // Gates from the tails too: e^x's clamps (below -86.5, above 88) and tanh's two forms (|x| < 0.625 and above).
    torch::Tensor gate_up = torch::randn({n_rows, 1, 2 * 80}) * 3;
    if (n_rows > 0) gate_up.select(0, 0).narrow(-1, 0, 6).copy_(torch::tensor({-200.0, -90.0, -0.3, 0.3, 95.0, 300.0}).view({1, 6}));
    gate_up = gate_up.to(dtype);
    const torch::Tensor gate = gate_up.narrow(-1, 0, 80).to(torch::kFloat32);
    const torch::Tensor up = gate_up.narrow(-1, 80, 80).to(torch::kFloat32);
    const torch::Tensor scale = (0.5 * gate.abs() * up.abs()).to(torch::kFloat64);
    for (const MlpActivation activation : {MlpActivation::gelu_tanh, MlpActivation::silu}) {
      const bool is_gelu = activation == MlpActivation::gelu_tanh;
      const torch::Tensor activated = is_gelu ? torch::gelu(gate, "tanh") : torch::silu(gate);
      const torch::Tensor expected = (activated.to(dtype).to(torch::kFloat32) * up).to(dtype).to(torch::kFloat64);
      const torch::Tensor actual = fused_gated_activation(gate_up, activation);
      ASSERT_EQ(actual.sizes(), torch::IntArrayRef({n_rows, 1, 80}));
      ASSERT_EQ(actual.scalar_type(), dtype);
      if (n_rows == 0) continue;
      const torch::Tensor error = (actual.to(torch::kFloat64) - expected).abs() / torch::max(expected.abs(), scale).clamp_min(1e-30);
      EXPECT_LE(error.max().item<double>(), tolerance) << (is_gelu ? "GELU (tanh), " : "SiLU, ") << n_rows << " rows";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, FusedStepsTest, ::testing::Values(torch::kFloat32, torch::kBFloat16),
                         [](const ::testing::TestParamInfo<torch::ScalarType>& info) {
                           return std::string(info.param == torch::kFloat32 ? "Float32" : "Bfloat16");
                         });

}  // namespace
}  // namespace abliterate::model
