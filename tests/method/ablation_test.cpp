// Ablation on output projections: the hook on y = W x must equal the
// materialized weight W' applied to x, in all three row-normalization modes
// (DESIGN.md §3, method spec §5.3), and materialize must match hand values.
#include "abliterate/config/job.hpp"
#include "abliterate/method/ablation.hpp"

#include <gtest/gtest.h>

#include "abliterate/common/error.hpp"
#include "abliterate/method/directions.hpp"
#include "abliterate/method/layer_weights.hpp"
#include "support/throws_with.hpp"

namespace abliterate::method {
namespace {

using config::RowNormalization;
using model::Projection;

// A model with weights and a config but no forward pass: all the hook reads.
class FakeModel : public model::Model {
 public:
  FakeModel(int64_t n_layers, int64_t hidden_size, int64_t attn_in, int64_t mlp_in) : chat_template_("") {
    config_.n_layers = n_layers;
    config_.hidden_size = hidden_size;
    torch::manual_seed(11);
    for (int64_t layer_idx = 0; layer_idx < n_layers; ++layer_idx) {
      o_proj_.push_back(torch::randn({hidden_size, attn_in}));
      down_proj_.push_back(torch::randn({hidden_size, mlp_in}) * 0.1);
    }
  }

  const model::ModelConfig& config() const override { return config_; }
  const tokenizer::Tokenizer& tokenizer() const override { throw InternalError("FakeModel has no tokenizer"); }
  const chat::ChatTemplate& chat_template() const override { return chat_template_; }
  torch::Device device() const override { return torch::kCPU; }
  model::PromptBatch tokenize(const std::vector<std::string>&) const override {
    throw InternalError("FakeModel cannot tokenize");
  }
  model::PrefillOutput prefill(const model::PromptBatch&, const model::ProjectionHook*, bool) const override {
    throw InternalError("FakeModel has no forward pass");
  }
  std::vector<std::vector<int64_t>> generate(const model::PromptBatch&, int64_t, const model::ProjectionHook*,
                                             const model::RowStopFn&) const override {
    throw InternalError("FakeModel has no forward pass");
  }
  torch::Tensor projection_weight(Projection which, int64_t layer_idx) const override {
    return (which == Projection::attn_o_proj ? o_proj_ : down_proj_)[static_cast<size_t>(layer_idx)];
  }

  // Test access: the weight to overwrite (e.g. to plant a zero row).
  torch::Tensor& mutable_weight(Projection which, int64_t layer_idx) {
    return (which == Projection::attn_o_proj ? o_proj_ : down_proj_)[static_cast<size_t>(layer_idx)];
  }

 private:
  model::ModelConfig config_;
  chat::ChatTemplate chat_template_;
  std::vector<torch::Tensor> o_proj_;     // float32 [d, attn_in] per layer
  std::vector<torch::Tensor> down_proj_;  // float32 [d, mlp_in] per layer
};

constexpr int64_t kLayers = 4;
constexpr int64_t kHidden = 12;

config::AblationParams sample_params(std::optional<double> direction_index) {
  config::AblationParams params;
  params.direction_index = direction_index;
  // Layer 0 lies past D for attn (untouched); weights above 1 overshoot.
  params.attn_o_proj = {.max_weight = 1.4, .max_weight_position = 2.6, .min_weight = 0.5,
                        .min_weight_distance = 1.8};
  params.mlp_down_proj = {.max_weight = 0.9, .max_weight_position = 1.0, .min_weight = 0.2,
                          .min_weight_distance = 2.5};
  return params;
}

torch::Tensor unit_directions() {
  torch::manual_seed(5);
  return refusal_directions(torch::randn({kLayers + 1, kHidden}), torch::randn({kLayers + 1, kHidden}), false);
}

// max |a - b| / max |b|
double relative_error(const torch::Tensor& actual, const torch::Tensor& expected) {
  return ((actual - expected).abs().max() / expected.abs().max()).item<double>();
}

class AblationModeTest : public ::testing::TestWithParam<RowNormalization> {};

TEST_P(AblationModeTest, HookedOutputEqualsMaterializedWeight) {
  const RowNormalization mode = GetParam();
  FakeModel model(kLayers, kHidden, 8, 20);
  const torch::Tensor directions = unit_directions();
  for (const std::optional<double> direction_index : {std::optional<double>(), std::optional<double>(1.3)}) {
    const config::AblationParams params = sample_params(direction_index);
    const AblationHook hook(model, directions, params, mode);
    const torch::Tensor per_layer = layer_directions(directions, direction_index);  // float32 [L, d]
    for (const Projection which : {Projection::attn_o_proj, Projection::mlp_down_proj}) {
      const std::vector<double> weights = layer_weights(
          which == Projection::attn_o_proj ? params.attn_o_proj : params.mlp_down_proj, kLayers);
      for (int64_t layer_idx = 0; layer_idx < kLayers; ++layer_idx) {
        const torch::Tensor weight = model.projection_weight(which, layer_idx);   // float32 [d, in]
        const torch::Tensor x = torch::randn({2, 3, weight.size(1)});            // float32 [B, T, in]
        const torch::Tensor y = torch::matmul(x, weight.t());                    // float32 [B, T, d]
        const torch::Tensor hooked = hook.apply(which, layer_idx, y);
        const double w = weights[static_cast<size_t>(layer_idx)];
        if (w == 0) {
          EXPECT_TRUE(hooked.is_same(y)) << "untouched layer " << layer_idx << " must return y itself";
          continue;
        }
        const torch::Tensor expected =
            torch::matmul(x, materialize(weight, per_layer[layer_idx], w, mode).t());  // float32 [B, T, d]
        EXPECT_LT(relative_error(hooked, expected), 1e-5)
            << model::to_string(which) << " layer " << layer_idx << " w " << w;
        // The edit is real: the output changed.
        EXPECT_GT(relative_error(hooked, y), 1e-3);
      }
    }
  }
}

TEST_P(AblationModeTest, ZeroRowsStayZeroAndFinite) {
  const RowNormalization mode = GetParam();
  FakeModel model(kLayers, kHidden, 8, 20);
  model.mutable_weight(Projection::attn_o_proj, 2)[3].zero_();
  const torch::Tensor directions = unit_directions();
  const AblationHook hook(model, directions, sample_params(std::nullopt), mode);
  const torch::Tensor weight = model.projection_weight(Projection::attn_o_proj, 2);
  const torch::Tensor x = torch::randn({1, 5, 8});
  const torch::Tensor hooked = hook.apply(Projection::attn_o_proj, 2, torch::matmul(x, weight.t()));
  EXPECT_TRUE(torch::isfinite(hooked).all().item<bool>());
  const double w = layer_weights(sample_params(std::nullopt).attn_o_proj, kLayers)[2];
  const torch::Tensor materialized = materialize(weight, directions[3], w, mode);
  EXPECT_LT(relative_error(hooked, torch::matmul(x, materialized.t())), 1e-5);
  if (mode != RowNormalization::none) {
    // Heretic's rownorm keeps a zero row zero, and diag(n) keeps it there.
    EXPECT_TRUE(torch::equal(materialized[3], torch::zeros({8})));
  }
}

TEST_P(AblationModeTest, HookKeepsTheModelDtype) {
  const RowNormalization mode = GetParam();
  FakeModel model(kLayers, kHidden, 8, 20);
  const AblationHook hook(model, unit_directions(), sample_params(std::nullopt), mode);
  const torch::Tensor y = torch::randn({2, 3, kHidden});
  const torch::Tensor hooked32 = hook.apply(Projection::mlp_down_proj, 1, y);
  const torch::Tensor hooked16 = hook.apply(Projection::mlp_down_proj, 1, y.to(torch::kBFloat16));
  EXPECT_EQ(hooked16.scalar_type(), torch::kBFloat16);
  // bf16 keeps 8 significant bits: the input rounding and the output rounding.
  EXPECT_LT(relative_error(hooked16.to(torch::kFloat32), hooked32), 2e-2);
}

INSTANTIATE_TEST_SUITE_P(Modes, AblationModeTest,
                         ::testing::Values(RowNormalization::none, RowNormalization::pre, RowNormalization::full),
                         [](const ::testing::TestParamInfo<RowNormalization>& info) {
                           return std::string(config::to_string(info.param));
                         });

TEST(MaterializeTest, FullModeKeepsEveryRowNorm) {
  torch::manual_seed(9);
  const torch::Tensor weight = torch::randn({16, 24}) * torch::rand({16, 1}) * 3;  // float32 [16, 24]
  torch::Tensor v = torch::randn({16});
  v = v / v.norm();
  for (const double w : {0.3, 1.0, 1.5}) {
    const torch::Tensor updated = materialize(weight, v, w, RowNormalization::full);
    EXPECT_TRUE(torch::allclose(updated.norm(2, 1), weight.norm(2, 1), 1e-6, 1e-6)) << "w = " << w;
    // pre does not keep them (method spec §5.3).
    const torch::Tensor pre = materialize(weight, v, w, RowNormalization::pre);
    EXPECT_FALSE(torch::allclose(pre.norm(2, 1), weight.norm(2, 1), 1e-3, 1e-3)) << "w = " << w;
  }
}

TEST(MaterializeTest, NoneRemovesTheDirectionFromTheOutputSpace) {
  // W = I, v = e0: w = 1 removes the e0 row; w = 1.5 overshoots to -0.5.
  const torch::Tensor identity = torch::eye(3);
  const torch::Tensor v = torch::tensor({1.0f, 0.0f, 0.0f});
  EXPECT_TRUE(torch::equal(materialize(identity, v, 1.0, RowNormalization::none),
                           torch::diag(torch::tensor({0.0f, 1.0f, 1.0f}))));
  EXPECT_TRUE(torch::equal(materialize(identity, v, 1.5, RowNormalization::none),
                           torch::diag(torch::tensor({-0.5f, 1.0f, 1.0f}))));
}

TEST(MaterializeTest, PreAndFullByHand) {
  // W = diag(2, 1): n = (2, 1), Ŵ = I; v = (1, 1)/√2, w = 1: (I - v vᵀ) = [[.5, -.5], [-.5, .5]].
  const torch::Tensor weight = torch::diag(torch::tensor({2.0f, 1.0f}));
  const float inv_s2 = 1 / std::sqrt(2.0f);
  const torch::Tensor v = torch::tensor({inv_s2, inv_s2});
  // pre: diag(n)(I - v vᵀ)Ŵ = [[1, -1], [-.5, .5]].
  const torch::Tensor pre = torch::tensor({1.0f, -1.0f, -0.5f, 0.5f}).reshape({2, 2});
  EXPECT_TRUE(torch::allclose(materialize(weight, v, 1.0, RowNormalization::pre), pre, 1e-6, 1e-6));
  // full: rownorm(I - v vᵀ) = [[1, -1], [-1, 1]]/√2, times n.
  const float s2 = std::sqrt(2.0f);
  const torch::Tensor full = torch::tensor({s2, -s2, -inv_s2, inv_s2}).reshape({2, 2});
  EXPECT_TRUE(torch::allclose(materialize(weight, v, 1.0, RowNormalization::full), full, 1e-6, 1e-6));
}

TEST(AblationHookTest, DirectionsOfTheWrongShapeAreInputError) {
  FakeModel model(kLayers, kHidden, 8, 20);
  ASSERT_THROWS_WITH(AblationHook(model, torch::zeros({kLayers, kHidden}), sample_params(std::nullopt),
                                  RowNormalization::none),
                     InputError, "expected shape [5, 12]");
}

}  // namespace
}  // namespace abliterate::method
