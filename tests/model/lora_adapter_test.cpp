// PEFT LoRA adapters merged at load (issue 10): the merge equals a model
// whose weights were merged by hand, rsLoRA's scale, and each bad adapter is
// refused with a message naming its file and key.
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "abliterate/common/error.hpp"
#include "abliterate/formats/safetensors_reader.hpp"
#include "abliterate/formats/safetensors_writer.hpp"
#include "abliterate/model/lora_adapter.hpp"
#include "abliterate/model/model.hpp"
#include "model/model_test_support.hpp"
#include "support/throws_with.hpp"

namespace abliterate::model {
namespace {

using testing::TempDir;
using testing::tiny_model_folder;

constexpr int64_t kRank = 4;

// PEFT's adapter_config.json for a plain LoRA, with `changes` merged over it.
nlohmann::json adapter_config(const nlohmann::json& changes = nlohmann::json::object()) {
  nlohmann::json config = {{"peft_type", "LORA"},
                           {"task_type", "CAUSAL_LM"},
                           {"r", kRank},
                           {"lora_alpha", 8},
                           {"lora_dropout", 0.0},
                           {"bias", "none"},
                           {"use_rslora", false},
                           {"use_dora", false},
                           {"fan_in_fan_out", false},
                           {"target_modules", {"q_proj", "o_proj", "down_proj"}},
                           {"modules_to_save", nullptr},
                           {"rank_pattern", nlohmann::json::object()},
                           {"alpha_pattern", nlohmann::json::object()}};
  config.merge_patch(changes);
  return config;
}

std::string peft_key(const std::string& module, const char* matrix) {
  return "base_model.model." + module + ".lora_" + matrix + ".weight";
}

// Random A [r, in] and B [out, r] for each (module, out, in), seeded.
std::vector<formats::NamedTensor> random_lora(const std::vector<std::tuple<std::string, int64_t, int64_t>>& modules,
                                     uint64_t seed) {
  torch::manual_seed(seed);
  std::vector<formats::NamedTensor> tensors;
  for (const auto& [module, out, in] : modules) {
    tensors.push_back({peft_key(module, "A"), torch::randn({kRank, in}) * 0.1});
    tensors.push_back({peft_key(module, "B"), torch::randn({out, kRank}) * 0.1});
  }
  return tensors;
}

void write_adapter(const std::filesystem::path& folder, const nlohmann::json& config,
                   const std::vector<formats::NamedTensor>& tensors) {
  std::filesystem::create_directories(folder);
  std::ofstream(folder / kAdapterConfigFile) << config.dump(2);
  formats::write_safetensors(folder / kAdapterWeightsFile, tensors);
}

// The tiny Gemma 3 model (hidden 64, 2 heads of 32, MLP 128): three modules of two layers.
const std::vector<std::tuple<std::string, int64_t, int64_t>> kModules = {
    {"model.layers.0.self_attn.q_proj", 64, 64},
    {"model.layers.2.self_attn.o_proj", 64, 64},
    {"model.layers.1.mlp.down_proj", 64, 128},
};

// The tiny model folder with `tensors` merged by hand: W + scale·B·A in float64.
void write_hand_merged(const std::filesystem::path& folder, const std::vector<formats::NamedTensor>& lora,
                       double scale) {
  std::filesystem::create_directories(folder);
  for (const auto& entry : std::filesystem::directory_iterator(tiny_model_folder())) {
    std::filesystem::copy_file(entry.path(), folder / entry.path().filename());
  }
  const formats::SafetensorsReader base = formats::SafetensorsReader::open(tiny_model_folder() / "model.safetensors");
  std::map<std::string, torch::Tensor> delta;
  for (size_t i = 0; i < lora.size(); i += 2) {
    const std::string& key = lora[i].name;  // base_model.model.<module>.lora_A.weight
    const std::string module = key.substr(17, key.size() - 17 - std::string(".lora_A.weight").size());
    delta[module + ".weight"] = torch::mm(lora[i + 1].tensor.to(torch::kFloat64), lora[i].tensor.to(torch::kFloat64));
  }
  std::vector<formats::NamedTensor> merged;
  for (const formats::SafetensorsTensorInfo& info : base.tensors()) {
    torch::Tensor weight = base.read(info.name).to(torch::kFloat64);
    if (delta.count(info.name)) weight = weight + scale * delta.at(info.name);
    merged.push_back({info.name, weight.to(torch::kFloat32)});
  }
  std::filesystem::remove(folder / "model.safetensors");
  formats::write_safetensors(folder / "model.safetensors", merged);
}

torch::Tensor first_token_logits(const Model& model) {
  const PromptBatch batch = model.tokenize({model.format_chat("", "How do I bake bread?"),
                                            model.format_chat("Be brief.", "Name a colour.")});
  return model.prefill(batch, nullptr, false).logits;
}

TEST(LoraAdapterTest, MergeEqualsHandMergedModel) {
  const TempDir dir("lora_merge");
  const std::vector<formats::NamedTensor> lora = random_lora(kModules, 7);
  write_adapter(dir.path() / "adapter", adapter_config(), lora);
  write_hand_merged(dir.path() / "merged", lora, /*scale=*/8.0 / kRank);

  LoadOptions with_adapter;
  with_adapter.adapter = dir.path() / "adapter";
  const auto adapted = Model::load(tiny_model_folder(), with_adapter);
  const auto merged = Model::load(dir.path() / "merged", LoadOptions{});
  const auto base = Model::load(tiny_model_folder(), LoadOptions{});

  const torch::Tensor adapted_logits = first_token_logits(*adapted);
  const torch::Tensor merged_logits = first_token_logits(*merged);
  EXPECT_TRUE(torch::allclose(adapted_logits, merged_logits, 1e-5, 1e-5))
      << (adapted_logits - merged_logits).abs().max().item<double>();
  // The adapter does change the model, and only where it targets.
  EXPECT_GT((adapted_logits - first_token_logits(*base)).abs().max().item<double>(), 1e-3);
  EXPECT_TRUE(torch::allclose(adapted->projection_weight(Projection::mlp_down_proj, 1),
                              merged->projection_weight(Projection::mlp_down_proj, 1), 1e-6, 1e-6));
  EXPECT_TRUE(torch::equal(adapted->projection_weight(Projection::mlp_down_proj, 0),
                           base->projection_weight(Projection::mlp_down_proj, 0)));
}

TEST(LoraAdapterTest, RsLoraScalesByTheSquareRootOfTheRank) {
  const TempDir dir("lora_rslora");
  const std::vector<formats::NamedTensor> lora = random_lora({{"model.layers.1.mlp.down_proj", 64, 128}}, 11);
  write_adapter(dir.path() / "adapter", adapter_config({{"use_rslora", true}, {"lora_alpha", 6}}), lora);
  LoadOptions options;
  options.adapter = dir.path() / "adapter";
  const auto adapted = Model::load(tiny_model_folder(), options);
  const auto base = Model::load(tiny_model_folder(), LoadOptions{});
  const double rslora_scale = 6.0 / std::sqrt(static_cast<double>(kRank));
  const torch::Tensor expected = base->projection_weight(Projection::mlp_down_proj, 1) +
                                 rslora_scale * torch::mm(lora[1].tensor, lora[0].tensor);
  EXPECT_TRUE(torch::allclose(adapted->projection_weight(Projection::mlp_down_proj, 1), expected, 1e-6, 1e-6));
}

// Loads the tiny model with an adapter of `config` and `tensors`, expecting a FormatError or IoError
// whose message holds each of `parts`.
void expect_refused(const nlohmann::json& config, const std::vector<formats::NamedTensor>& tensors,
                    const std::vector<std::string>& parts) {
  const TempDir dir("lora_bad");
  write_adapter(dir.path() / "adapter", config, tensors);
  LoadOptions options;
  options.adapter = dir.path() / "adapter";
  try {
    Model::load(tiny_model_folder(), options);
    ADD_FAILURE() << "the adapter was accepted";
  } catch (const Error& e) {
    for (const std::string& part : parts) EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

TEST(LoraAdapterTest, RefusesDoraAndOtherVariantsNamingTheKey) {
  const std::vector<formats::NamedTensor> lora = random_lora(kModules, 1);
  expect_refused(adapter_config({{"use_dora", true}}), lora, {"adapter_config.json", "'use_dora'", "DoRA"});
  expect_refused(adapter_config({{"peft_type", "IA3"}}), lora, {"adapter_config.json", "'peft_type'", "IA3"});
  expect_refused(adapter_config({{"fan_in_fan_out", true}}), lora, {"adapter_config.json", "'fan_in_fan_out'"});
  expect_refused(adapter_config({{"bias", "lora_only"}}), lora, {"adapter_config.json", "'bias'"});
  expect_refused(adapter_config({{"alpha_pattern", {{"q_proj", 4}}}}), lora,
                 {"adapter_config.json", "'alpha_pattern'"});
  expect_refused(adapter_config({{"r", 0}}), lora, {"adapter_config.json", "'r'"});
  // A DoRA magnitude vector in the weights, whatever the config says.
  std::vector<formats::NamedTensor> with_magnitude = lora;
  const std::string magnitude_key = "base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector";
  with_magnitude.push_back({magnitude_key, torch::ones({64, 1})});
  expect_refused(adapter_config(), with_magnitude, {"adapter_model.safetensors", "'" + magnitude_key + "'"});
}

TEST(LoraAdapterTest, RefusesUnknownTargetModulesNamingTheKey) {
  expect_refused(adapter_config(), random_lora({{"model.layers.0.self_attn.qkv_proj", 192, 64}}, 2),
                 {"adapter_model.safetensors", "'base_model.model.model.layers.0.self_attn.qkv_proj.lora_A.weight'",
                  "not supported"});
  expect_refused(adapter_config(), random_lora({{"lm_head", 300, 64}}, 2),
                 {"adapter_model.safetensors", "'base_model.model.lm_head.lora_A.weight'"});
  // A layer the model does not have (it has 4).
  expect_refused(adapter_config(), random_lora({{"model.layers.9.mlp.down_proj", 64, 128}}, 2),
                 {"adapter_model.safetensors", "'base_model.model.model.layers.9.mlp.down_proj.lora_A.weight'",
                  "has no weight"});
}

TEST(LoraAdapterTest, RefusesWrongBaseShapesNamingTheKeys) {
  // An adapter for a wider model: A reads 96 inputs where down_proj has 128.
  expect_refused(adapter_config(), random_lora({{"model.layers.1.mlp.down_proj", 64, 96}}, 3),
                 {"adapter_model.safetensors", "'base_model.model.model.layers.1.mlp.down_proj.lora_A.weight' [4, 96]",
                  "'model.layers.1.mlp.down_proj.weight' is [64, 128]"});
  // A and B of different ranks.
  std::vector<formats::NamedTensor> mismatched = random_lora({{"model.layers.1.mlp.down_proj", 64, 128}}, 3);
  mismatched[1].tensor = torch::zeros({64, kRank + 1});
  expect_refused(adapter_config(), mismatched, {"adapter_model.safetensors", "the ranks differ"});
  // An A without its B.
  std::vector<formats::NamedTensor> lonely = random_lora({{"model.layers.1.mlp.down_proj", 64, 128}}, 3);
  lonely.pop_back();
  expect_refused(adapter_config(), lonely,
                 {"adapter_model.safetensors", "'base_model.model.model.layers.1.mlp.down_proj.lora_A.weight' has no "
                                               "partner 'base_model.model.model.layers.1.mlp.down_proj.lora_B.weight'"});
}

TEST(LoraAdapterTest, RefusesMissingFilesNamingThem) {
  const TempDir dir("lora_missing");
  LoadOptions options;
  options.adapter = dir.path() / "nowhere";
  ASSERT_THROWS_WITH(Model::load(tiny_model_folder(), options), IoError, "nowhere: no such adapter folder");
  std::filesystem::create_directories(dir.path() / "half");
  std::ofstream(dir.path() / "half" / kAdapterConfigFile) << adapter_config().dump();
  options.adapter = dir.path() / "half";
  ASSERT_THROWS_WITH(Model::load(tiny_model_folder(), options), IoError, "adapter_model.safetensors: no such file");
  std::filesystem::remove(dir.path() / "half" / kAdapterConfigFile);
  formats::write_safetensors(dir.path() / "half" / kAdapterWeightsFile, random_lora(kModules, 4));
  ASSERT_THROWS_WITH(Model::load(tiny_model_folder(), options), IoError, "adapter_config.json: no such file");
  // A truncated weights file is a format error naming it.
  std::ofstream(dir.path() / "half" / kAdapterConfigFile) << adapter_config().dump();
  const std::string bytes = testing::read_bytes(dir.path() / "half" / kAdapterWeightsFile);
  testing::write_bytes(dir.path() / "half" / kAdapterWeightsFile, bytes.substr(0, bytes.size() / 2));
  ASSERT_THROWS_WITH(Model::load(tiny_model_folder(), options), FormatError, "adapter_model.safetensors");
}

}  // namespace
}  // namespace abliterate::model
