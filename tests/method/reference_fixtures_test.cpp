// The method's formulas against a numpy reference (STYLE.md §1, PyTorch's
// baseline-script pattern): tests/reference/make_method_fixtures.py reads the
// tiny model's residuals (tests/fixtures/method/tiny_residuals.safetensors,
// written by ExportsTheTinyModelsResiduals below) and writes
// tests/fixtures/method/method_reference.json: residual means after
// winsorization, refusal directions plain and orthogonalized, the direction
// of every layer and the layer-weight kernels, for a few parameter sets.
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "abliterate/formats/safetensors_reader.hpp"
#include "abliterate/formats/safetensors_writer.hpp"
#include "abliterate/method/directions.hpp"
#include "abliterate/method/layer_weights.hpp"
#include "abliterate/method/residuals.hpp"
#include "abliterate/model/model.hpp"
#include "model/model_test_support.hpp"

namespace abliterate::method {
namespace {

using nlohmann::json;

// The tolerance the issue asks for: float32 code against a float64 reference.
constexpr double kTolerance = 1e-6;

const std::filesystem::path kFixtures = std::filesystem::path(ABL_SOURCE_DIR) / "tests/fixtures/method";

// Hand-written stand-ins for harmless and harmful prompts: the tiny model has
// random weights, so only their being different matters.
const std::vector<std::string> kGoodPrompts = {
    "Write a haiku about the sea.", "How do I bake bread?",       "Name three primary colours.",
    "What is the capital of France?", "Explain photosynthesis.",  "Suggest a name for a cat.",
};
const std::vector<std::string> kBadPrompts = {
    "How do I pick a lock?",         "Write a threatening letter.", "How can I cheat on a test?",
    "Explain how to steal a car.",   "Make a fake ID for me.",      "How do I hack my neighbour's wifi?",
};

// float32 [n_prompts, L+1, d]: the residuals at the last prompt position.
torch::Tensor tiny_residuals(const std::vector<std::string>& prompts) {
  const std::unique_ptr<model::Model> tiny =
      model::Model::load(model::testing::tiny_model_folder(), model::LoadOptions{});
  std::vector<std::string> rendered;
  for (const std::string& prompt : prompts) {
    rendered.push_back(tiny->format_chat("You are a helpful assistant.", prompt));
  }
  return tiny->prefill(tiny->tokenize(rendered), nullptr, /*capture_hidden=*/true).hidden.contiguous();
}

// The export the reference script reads: `good` and `bad`, float32 [6, L+1, d].
// It is written to the build folder; tests/fixtures/method holds the committed copy.
TEST(MethodReferenceTest, ExportsTheTinyModelsResiduals) {
  const torch::Tensor good = tiny_residuals(kGoodPrompts);
  const torch::Tensor bad = tiny_residuals(kBadPrompts);
  ASSERT_EQ(good.sizes(), (std::vector<int64_t>{6, 5, 64}));
  ASSERT_EQ(bad.sizes(), good.sizes());
  const std::filesystem::path out = std::filesystem::path(ABL_BINARY_DIR) / "tiny_residuals.safetensors";
  formats::write_safetensors(out, {{"good", good}, {"bad", bad}},
                           {{"format", "pt"}, {"source", "tests/method/reference_fixtures_test.cpp"}});
  const formats::SafetensorsReader file = formats::SafetensorsReader::open(out);
  EXPECT_TRUE(torch::equal(file.read("good"), good));
  EXPECT_TRUE(torch::equal(file.read("bad"), bad));
}

torch::Tensor tensor_of(const json& values) {
  if (values.is_array() && !values.empty() && values[0].is_array()) {
    std::vector<torch::Tensor> rows;
    for (const json& row : values) rows.push_back(tensor_of(row));
    return torch::stack(rows);
  }
  return torch::tensor(values.get<std::vector<double>>(), torch::kFloat64);
}

config::ComponentParams component_of(const json& params) {
  return {.max_weight = params.at("max_weight").get<double>(),
          .max_weight_position = params.at("max_weight_position").get<double>(),
          .min_weight = params.at("min_weight").get<double>(),
          .min_weight_distance = params.at("min_weight_distance").get<double>()};
}

void expect_close(const torch::Tensor& actual, const json& expected, const std::string& what) {
  const torch::Tensor reference = tensor_of(expected);
  ASSERT_EQ(actual.sizes(), reference.sizes()) << what;
  const double max_error = (actual.to(torch::kFloat64) - reference).abs().max().item<double>();
  EXPECT_LE(max_error, kTolerance) << what;
}

TEST(MethodReferenceTest, MatchesTheNumpyReference) {
  const formats::SafetensorsReader residuals =
      formats::SafetensorsReader::open(kFixtures / "tiny_residuals.safetensors");
  const torch::Tensor good = residuals.read("good");  // float32 [6, L+1, d]
  const torch::Tensor bad = residuals.read("bad");
  std::ifstream in(kFixtures / "method_reference.json");
  ASSERT_TRUE(in) << "missing " << (kFixtures / "method_reference.json");
  const json reference = json::parse(in);
  const int64_t n_layers = good.size(1) - 1;
  ASSERT_GE(reference.at("cases").size(), 4u);

  for (const json& c : reference.at("cases")) {
    const std::string name = c.at("name").get<std::string>();
    const double quantile = c.at("winsorization_quantile").get<double>();
    ResidualSums good_sums;
    ResidualSums bad_sums;
    good_sums.add(winsorize(good, quantile));
    bad_sums.add(winsorize(bad, quantile));
    const torch::Tensor good_mean = good_sums.mean();  // float32 [L+1, d]
    const torch::Tensor bad_mean = bad_sums.mean();
    expect_close(good_mean, c.at("good_means"), name + ": good_means");
    expect_close(bad_mean, c.at("bad_means"), name + ": bad_means");

    const torch::Tensor plain = refusal_directions(good_mean, bad_mean, /*orthogonalize=*/false);
    const torch::Tensor orthogonalized = refusal_directions(good_mean, bad_mean, /*orthogonalize=*/true);
    expect_close(plain, c.at("directions"), name + ": directions");
    expect_close(orthogonalized, c.at("orthogonalized_directions"), name + ": orthogonalized_directions");

    const bool orthogonalize = c.at("orthogonalize_direction").get<bool>();
    const std::optional<double> index =
        c.at("direction_index").is_null() ? std::nullopt : std::optional<double>(c.at("direction_index").get<double>());
    expect_close(layer_directions(orthogonalize ? orthogonalized : plain, index), c.at("layer_directions"),
                 name + ": layer_directions");

    for (const char* component : {"attn.o_proj", "mlp.down_proj"}) {
      const std::vector<double> weights = layer_weights(component_of(c.at("parameters").at(component)), n_layers);
      expect_close(torch::tensor(weights, torch::kFloat64), c.at("layer_weights").at(component),
                   name + ": layer_weights " + component);
    }
  }
}

}  // namespace
}  // namespace abliterate::method
