// fused_rms_norm and fused_rotary against the LibTorch operations they replace
// (decoder.hpp's rms_norm and gemma_rms_norm, and x * cos + rotate_half(x) * sin):
// float32 and bfloat16, contiguous and strided inputs, every row count a
// decode step or a prefill passes.
#include <gtest/gtest.h>
#include <torch/torch.h>

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

INSTANTIATE_TEST_SUITE_P(Dtypes, FusedStepsTest, ::testing::Values(torch::kFloat32, torch::kBFloat16),
                         [](const ::testing::TestParamInfo<torch::ScalarType>& info) {
                           return std::string(info.param == torch::kFloat32 ? "Float32" : "Bfloat16");
                         });

}  // namespace
}  // namespace abliterate::model
