// DESIGN.md §3: a model with the AblationHook and a model whose o_proj and
// down_proj weights were materialized with the same update give the same
// logits, in all three row-normalization modes (tiny random Gemma 3, fp32).
#include <gtest/gtest.h>

#include "abliterate/config/job.hpp"
#include "abliterate/formats/safetensors_reader.hpp"
#include "abliterate/formats/safetensors_writer.hpp"
#include "abliterate/method/ablation.hpp"
#include "abliterate/method/directions.hpp"
#include "abliterate/method/layer_weights.hpp"
#include "abliterate/model/tensor_names.hpp"
#include "model/model_test_support.hpp"

namespace abliterate::method {
namespace {

using config::RowNormalization;

const model::Model& base_model() {
  static const std::unique_ptr<model::Model> model =
      model::Model::load(model::testing::tiny_model_folder(), model::LoadOptions{});
  return *model;
}

config::AblationParams trial_params() {
  config::AblationParams params;
  params.direction_index = 1.4;
  params.attn_o_proj = {.max_weight = 1.3, .max_weight_position = 2.2, .min_weight = 0.6, .min_weight_distance = 1.5};
  params.mlp_down_proj = {.max_weight = 1.0, .max_weight_position = 1.0, .min_weight = 0.3,
                          .min_weight_distance = 2.0};
  return params;
}

// A copy of the tiny model folder with the trial materialized into its weights.
std::filesystem::path write_materialized(const model::testing::TempDir& dir, const torch::Tensor& directions,
                                         const config::AblationParams& params, RowNormalization mode) {
  const int64_t n_layers = base_model().config().n_layers;
  const torch::Tensor per_layer = layer_directions(directions, params.direction_index);  // float32 [L, d]
  const std::vector<double> attn_weights = layer_weights(params.attn_o_proj, n_layers);
  const std::vector<double> mlp_weights = layer_weights(params.mlp_down_proj, n_layers);
  const formats::SafetensorsReader file =
      formats::SafetensorsReader::open(model::testing::tiny_model_folder() / "model.safetensors");
  std::vector<formats::NamedTensor> tensors;
  for (const auto& info : file.tensors()) tensors.push_back({info.name, file.read(info.name)});
  for (int64_t layer_idx = 0; layer_idx < n_layers; ++layer_idx) {
    for (const auto& [tensor, weights] : {std::pair{model::LayerTensor::o_proj, &attn_weights},
                                          std::pair{model::LayerTensor::down_proj, &mlp_weights}}) {
      const double w = (*weights)[static_cast<size_t>(layer_idx)];
      if (w == 0) continue;
      const std::string name = model::hf_layer_tensor_name(model::kHfTextPrefix, layer_idx, tensor);
      const auto it = std::find_if(tensors.begin(), tensors.end(),
                                   [&](const formats::NamedTensor& named) { return named.name == name; });
      EXPECT_NE(it, tensors.end()) << name;
      it->tensor = materialize(it->tensor, per_layer[layer_idx], w, mode);
    }
  }
  const std::filesystem::path folder = dir.path() / "materialized";
  std::filesystem::copy(model::testing::tiny_model_folder(), folder);
  std::filesystem::remove(folder / "model.safetensors");
  formats::write_safetensors(folder / "model.safetensors", tensors);
  return folder;
}

class AblationModelTest : public ::testing::TestWithParam<RowNormalization> {};

TEST_P(AblationModelTest, HookedAndMaterializedModelsGiveTheSameLogits) {
  const RowNormalization mode = GetParam();
  const model::Model& model = base_model();
  torch::manual_seed(21);
  const int64_t d = model.config().hidden_size;
  const torch::Tensor directions = torch::nn::functional::normalize(
      torch::randn({model.config().n_layers + 1, d}), torch::nn::functional::NormalizeFuncOptions().dim(1));
  const config::AblationParams params = trial_params();
  const AblationHook hook(model, directions, params, mode);

  const model::testing::TempDir dir("ablation");
  const std::unique_ptr<model::Model> materialized =
      model::Model::load(write_materialized(dir, directions, params, mode), model::LoadOptions{});

  const std::vector<std::string> prompts = {model.format_chat("", "Hello there"),
                                            model.format_chat("Be brief.", "How do I bake bread?")};
  const model::PromptBatch batch = model.tokenize(prompts);
  const torch::Tensor base = model.prefill(batch, nullptr, false).logits;      // float32 [2, V]
  const torch::Tensor hooked = model.prefill(batch, &hook, false).logits;      // float32 [2, V]
  const torch::Tensor expected = materialized->prefill(batch, nullptr, false).logits;
  const double scale = expected.abs().max().item<double>();
  EXPECT_LT((hooked - expected).abs().max().item<double>() / scale, 1e-4);
  // The ablation did change the model.
  EXPECT_GT((hooked - base).abs().max().item<double>() / scale, 1e-3);
}

INSTANTIATE_TEST_SUITE_P(Modes, AblationModelTest,
                         ::testing::Values(RowNormalization::none, RowNormalization::pre, RowNormalization::full),
                         [](const ::testing::TestParamInfo<RowNormalization>& info) {
                           return std::string(config::to_string(info.param));
                         });

}  // namespace
}  // namespace abliterate::method
