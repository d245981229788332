// PackedLinear and batched_matmul against LibTorch's own products: every row
// count (the primitives are made per count), bias, fused projections, strided
// inputs as attention passes them, float32 and bfloat16.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "abliterate/model/batched_matmul.hpp"
#include "abliterate/model/packed_linear.hpp"

namespace abliterate::model {
namespace {

// float32 sums in another order: a few ulps of the output's scale.
constexpr double kFloat32Tolerance = 1e-5;
// bfloat16 outputs: both sides accumulate in float32 and round once, so they
// may differ by one bfloat16 ulp (2^-8 relative).
constexpr double kBfloat16Tolerance = 1.0 / 128;

double tolerance_of(torch::ScalarType dtype) {
  return dtype == torch::kFloat32 ? kFloat32Tolerance : kBfloat16Tolerance;
}

void expect_close(const torch::Tensor& actual, const torch::Tensor& expected, double tolerance, const std::string& what) {
  ASSERT_EQ(actual.sizes(), expected.sizes()) << what;
  ASSERT_EQ(actual.scalar_type(), expected.scalar_type()) << what;
  if (expected.numel() == 0) return;
  const torch::Tensor a = actual.to(torch::kFloat32);
  const torch::Tensor e = expected.to(torch::kFloat32);
  const double scale = std::max(1.0, e.abs().max().item<double>());
  const double worst = (a - e).abs().max().item<double>();
  EXPECT_LE(worst, tolerance * scale) << what << ": worst difference " << worst << " at scale " << scale;
}

class PackedLinearTest : public ::testing::TestWithParam<torch::ScalarType> {};

TEST_P(PackedLinearTest, EqualsTorchLinearForEveryRowCount) {
  const torch::ScalarType dtype = GetParam();
  torch::manual_seed(7);
  const torch::Tensor weight = (torch::randn({96, 80}) * 0.1).to(dtype);  // [N, K]
  const torch::Tensor bias = torch::randn({96}).to(dtype);
  for (const bool with_bias : {false, true}) {
    const PackedLinear linear(weight, with_bias ? bias : torch::Tensor());
    EXPECT_EQ(linear.in_features(), 80);
    EXPECT_EQ(linear.out_features(), 96);
    for (const int64_t n_rows : {0, 1, 3, 32, 77}) {
      const torch::Tensor x = torch::randn({n_rows, 1, 80}).to(dtype);  // [B, T, K] as the decoder passes it
      const torch::Tensor expected = torch::linear(x, weight, with_bias ? bias : torch::Tensor());
      expect_close(linear(x), expected, tolerance_of(dtype),
                   "rows " + std::to_string(n_rows) + (with_bias ? " with bias" : ""));
    }
  }
}

TEST_P(PackedLinearTest, FusedProjectionsEqualEachProjectionAlone) {
  const torch::ScalarType dtype = GetParam();
  torch::manual_seed(8);
  const torch::Tensor q = (torch::randn({64, 48}) * 0.1).to(dtype);
  const torch::Tensor k = (torch::randn({16, 48}) * 0.1).to(dtype);
  const torch::Tensor v = (torch::randn({16, 48}) * 0.1).to(dtype);
  const torch::Tensor q_bias = torch::randn({64}).to(dtype);
  const torch::Tensor k_bias = torch::randn({16}).to(dtype);
  const torch::Tensor v_bias = torch::randn({16}).to(dtype);
  const PackedLinear fused = fuse_linears({q, k, v}, {q_bias, k_bias, v_bias});
  ASSERT_EQ(fused.out_features(), 96);
  const torch::Tensor x = torch::randn({5, 7, 48}).to(dtype);
  const torch::Tensor y = fused(x);  // [5, 7, 96]
  const double tolerance = tolerance_of(dtype);
  expect_close(y.narrow(-1, 0, 64), torch::linear(x, q, q_bias), tolerance, "q");
  expect_close(y.narrow(-1, 64, 16), torch::linear(x, k, k_bias), tolerance, "k");
  expect_close(y.narrow(-1, 80, 16), torch::linear(x, v, v_bias), tolerance, "v");
  // Without biases (gate/up).
  const PackedLinear gate_up = fuse_linears({q, k}, {torch::Tensor(), torch::Tensor()});
  expect_close(gate_up(x).narrow(-1, 64, 16), torch::linear(x, k), tolerance, "up");
}

TEST_P(PackedLinearTest, BatchedMatmulEqualsTorchMatmulOnStridedInputs) {
  const torch::ScalarType dtype = GetParam();
  torch::manual_seed(9);
  // As attention: queries [B, Hkv, g*T, D] against keys narrowed from a cache
  // buffer [B, Hkv, capacity, D] and transposed.
  const torch::Tensor buffer = torch::randn({3, 2, 40, 16}).to(dtype);
  const torch::Tensor keys = buffer.narrow(2, 0, 23);  // [3, 2, 23, 16], strided
  const torch::Tensor queries = torch::randn({3, 4, 1, 16}).to(dtype).reshape({3, 2, 2, 16});
  const torch::Tensor scores = batched_matmul(queries, keys.transpose(-1, -2));  // [3, 2, 2, 23]
  expect_close(scores, torch::matmul(queries, keys.transpose(-1, -2)), tolerance_of(dtype), "scores");
  EXPECT_TRUE(scores.is_contiguous());
  const torch::Tensor probs = torch::softmax(scores.to(torch::kFloat32), -1).to(dtype);
  expect_close(batched_matmul(probs, keys), torch::matmul(probs, keys), tolerance_of(dtype), "context");
  // Shapes oneDNN does not take go to torch::matmul.
  const torch::Tensor a = torch::randn({4, 5}).to(dtype);
  const torch::Tensor b = torch::randn({5, 6}).to(dtype);
  expect_close(batched_matmul(a, b), torch::matmul(a, b), tolerance_of(dtype), "2-D");
}

INSTANTIATE_TEST_SUITE_P(Dtypes, PackedLinearTest, ::testing::Values(torch::kFloat32, torch::kBFloat16),
                         [](const auto& info) { return std::string(c10::toString(info.param)); });

TEST(PackedLinearPackingTest, CpuFloat32AndBfloat16ArePackedWhereTheBuildHasOneDnn) {
  const torch::Tensor weight = torch::randn({32, 16});
  EXPECT_EQ(PackedLinear(weight, {}).is_packed(), PackedLinear::packs_cpu_weights());
  // float16 has no oneDNN kernel here: the plain product.
  const PackedLinear half(weight.to(torch::kFloat16), {});
  EXPECT_FALSE(half.is_packed());
}

}  // namespace
}  // namespace abliterate::model
