// export_hf_folder and export_lora_adapter on the tiny model, in each row
// normalization:
// - our runtime loads the exported folder, and its logits equal the original
//   model's with the trial's AblationHook (<= 1e-4 relative);
// - HF transformers loads the same folder: its logits, computed by
//   tests/reference/make_export_fixtures.py and committed as fixtures, equal
//   the hooked ones (<= 1e-4 relative);
// - the LoRA adapter, merged by our loader onto the original model, gives the
//   hooked logits too (exactly rank 1 for none and pre; for full, exact at
//   the full rank and an approximation at rank 3), and transformers + PEFT,
//   loading it onto the original model, give what our loader gives.
// The directions are a fixed formula, so the export is the same bytes on every
// machine. ABL_EXPORT_FIXTURE_DIR=DIR keeps the exported folders there, for
// the fixture script.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>

#include <nlohmann/json.hpp>

#include "abliterate/common/error.hpp"
#include "abliterate/config/job.hpp"
#include "abliterate/exporter/gguf_export.hpp"
#include "abliterate/exporter/hf_export.hpp"
#include "abliterate/exporter/lora_export.hpp"
#include "abliterate/method/ablation.hpp"
#include "abliterate/model/model.hpp"
#include "abliterate/study/attribute_names.hpp"
#include "abliterate/study/search_space.hpp"
#include "model/model_test_support.hpp"
#include "support/throws_with.hpp"

namespace abliterate::exporter {
namespace {

using model::testing::TempDir;
using model::testing::tiny_model_folder;

constexpr double kRelativeTolerance = 1e-4;
constexpr const char* kPrompts[] = {"Hello there", "How do I bake bread?", "Tell me a story about a cat."};

// Unit rows [L+1, d] from a formula: no random generator, the same on every machine.
torch::Tensor formula_directions(int64_t n_rows, int64_t hidden_size) {
  const torch::Tensor rows = torch::arange(n_rows, torch::kFloat64).unsqueeze(1) + 1;
  const torch::Tensor cols = torch::arange(hidden_size, torch::kFloat64).unsqueeze(0) + 1;
  const torch::Tensor values = torch::sin(rows * 0.7 + cols * 1.3) + 0.25 * torch::cos(rows * cols * 0.11);
  return (values / values.norm(2, 1, /*keepdim=*/true)).to(torch::kFloat32);
}

config::AblationParams trial_params() {
  config::AblationParams params;
  params.direction_index = 2.3;
  params.attn_o_proj = {.max_weight = 1.2, .max_weight_position = 2.5, .min_weight = 0.6, .min_weight_distance = 1.7};
  params.mlp_down_proj = {.max_weight = 1.4, .max_weight_position = 2.0, .min_weight = 0.4, .min_weight_distance = 1.5};
  return params;
}

// A study as open_stored_study would give it, without a store or cache.
runner::StoredStudy tiny_study(config::RowNormalization mode, const model::Model& model) {
  runner::StoredStudy study;
  study.store_path = "tiny.db";
  study.study_name = "tiny";
  study.job.model = tiny_model_folder().string();
  study.job.row_normalization = mode;
  study.fingerprint = "test";
  study.preparation.directions = formula_directions(model.config().n_layers + 1, model.config().hidden_size);
  return study;
}

study::Trial tiny_trial() {
  study::Trial trial;
  trial.number = 0;
  trial.state = study::TrialState::COMPLETE;
  trial.user_attrs = study::ablation_user_attrs(trial_params());
  trial.user_attrs[std::string(study::kKlDivergenceAttr)] = 0.5;
  trial.user_attrs[std::string(study::kRefusalsAttr)] = 1;
  trial.user_attrs[std::string(study::kBaseRefusalsAttr)] = 5;
  trial.user_attrs[std::string(study::kNBadPromptsAttr)] = 6;
  return trial;
}

// float32 [V]: the last position's logits of one prompt, alone in its batch (no padding).
torch::Tensor last_logits(const model::Model& model, const std::string& text, const model::ProjectionHook* hook) {
  const std::string rendered = model.chat_template().render({{"user", text}}, /*add_generation_prompt=*/true);
  return model.prefill(model.tokenize({rendered}), hook, false).logits[0];
}

double relative_error(const torch::Tensor& actual, const torch::Tensor& expected) {
  return (actual - expected).abs().max().item<double>() / expected.abs().max().item<double>();
}

// Where a test writes what the fixture script reads: ABL_EXPORT_FIXTURE_DIR
// when it is set, else the test's own temporary folder.
std::filesystem::path export_root(const TempDir& dir) {
  const char* keep = std::getenv("ABL_EXPORT_FIXTURE_DIR");
  return keep != nullptr ? std::filesystem::path(keep) : dir.path();
}

// tests/fixtures/reference/<name>.json; null when it is missing.
nlohmann::json read_fixture(const std::string& name) {
  std::ifstream file(std::string(ABL_SOURCE_DIR) + "/tests/fixtures/reference/" + name + ".json");
  return file ? nlohmann::json::parse(file) : nlohmann::json();
}

// A model, a study of it, a trial and the hook that applies the trial as the run did.
struct HookedTrial {
  std::unique_ptr<model::Model> original;
  runner::StoredStudy study;
  study::Trial trial;
  std::unique_ptr<method::AblationHook> hook;
};

HookedTrial hooked_trial(const std::filesystem::path& model_path, config::RowNormalization mode,
                         const config::AblationParams& params) {
  HookedTrial hooked;
  hooked.original = model::Model::load(model_path, {});
  hooked.study = tiny_study(mode, *hooked.original);
  hooked.study.job.model = model_path.string();
  hooked.trial = tiny_trial();
  hooked.trial.user_attrs.update(study::ablation_user_attrs(params));
  hooked.hook = std::make_unique<method::AblationHook>(*hooked.original, hooked.study.preparation.directions, params,
                                                       mode);
  return hooked;
}

HookedTrial tiny_hooked_trial(config::RowNormalization mode) {
  return hooked_trial(tiny_model_folder(), mode, trial_params());
}

// A real GGUF of models/ (scripts/setup installs them), with a trial whose
// kernel reaches the middle of its 18 (Gemma 3) or 30 (SmolLM2) layers.
HookedTrial real_hooked_trial(const std::string& file, config::RowNormalization mode) {
  config::AblationParams params = trial_params();
  params.direction_index = 10.4;
  params.attn_o_proj = {.max_weight = 1.1, .max_weight_position = 12.0, .min_weight = 0.5, .min_weight_distance = 9.0};
  params.mlp_down_proj = {.max_weight = 0.9, .max_weight_position = 14.0, .min_weight = 0.3, .min_weight_distance = 8.0};
  return hooked_trial(std::filesystem::path(ABL_SOURCE_DIR) / "models" / file, mode, params);
}

class HfExportTest : public ::testing::TestWithParam<config::RowNormalization> {};

TEST_P(HfExportTest, ExportedWeightsGiveTheHookedLogits) {
  const config::RowNormalization mode = GetParam();
  const std::string mode_name = config::to_string(mode);
  const HookedTrial tiny = tiny_hooked_trial(mode);
  const model::Model& original = *tiny.original;

  TempDir dir("export");
  ExportOptions options;
  options.out = export_root(dir) / ("export-" + mode_name);
  options.force = true;
  const ExportSummary summary = export_hf_folder(tiny.study, tiny.trial, options);
  EXPECT_GT(summary.n_ablated_matrices, 0);
  const std::unique_ptr<model::Model> exported = model::Model::load(options.out, {});

  const nlohmann::json fixture = read_fixture("export-" + mode_name);
  ASSERT_FALSE(fixture.is_null()) << "no fixture for " << mode_name << ": run tests/reference/make_export_fixtures.py";
  ASSERT_EQ(fixture.at("prompts").size(), std::size(kPrompts));
  for (size_t i = 0; i < std::size(kPrompts); ++i) {
    const torch::Tensor hooked = last_logits(original, kPrompts[i], tiny.hook.get());
    const torch::Tensor ours = last_logits(*exported, kPrompts[i], nullptr);
    EXPECT_LE(relative_error(ours, hooked), kRelativeTolerance) << mode_name << ", prompt " << i;
    const torch::Tensor transformers =
        torch::tensor(fixture["prompts"][i].at("last_logits").get<std::vector<float>>());
    EXPECT_LE(relative_error(transformers, hooked), kRelativeTolerance) << mode_name << ", prompt " << i;
    // The ablation changes the model: the hooked logits are not the original's.
    EXPECT_GT(relative_error(hooked, last_logits(original, kPrompts[i], nullptr)), 1e-3);
    std::printf("%s prompt %zu: exported vs hooked %.2e, transformers vs hooked %.2e\n", mode_name.c_str(), i,
                relative_error(ours, hooked), relative_error(transformers, hooked));
  }
}

TEST_P(HfExportTest, AdapterOnTheOriginalGivesTheHookedLogits) {
  const config::RowNormalization mode = GetParam();
  const std::string mode_name = config::to_string(mode);
  const HookedTrial tiny = tiny_hooked_trial(mode);
  const model::Model& original = *tiny.original;
  TempDir dir("adapter");
  const std::filesystem::path root = export_root(dir);
  if (root != dir.path()) {  // the fixture script loads the adapter onto this copy of the original
    std::filesystem::copy(tiny_model_folder(), root / "base",
                          std::filesystem::copy_options::recursive | std::filesystem::copy_options::overwrite_existing);
  }

  ExportOptions options;
  options.out = root / ("adapter-" + mode_name);
  options.force = true;
  const LoraExportSummary summary =
      export_lora_adapter(tiny.study, tiny.trial, options, tiny.study.job.full_normalization_lora_rank);
  EXPECT_EQ(summary.rank, mode == config::RowNormalization::full ? 3 : 1);  // Heretic's default rank
  model::LoadOptions with_adapter;
  with_adapter.adapter = options.out.string();
  const std::unique_ptr<model::Model> adapted = model::Model::load(tiny_model_folder(), with_adapter);

  // Full normalization at the full rank is exact too.
  ExportOptions exact_options;
  exact_options.out = dir.path() / ("adapter-exact-" + mode_name);
  const LoraExportSummary exact =
      export_lora_adapter(tiny.study, tiny.trial, exact_options, original.config().hidden_size);
  EXPECT_LT(exact.max_relative_error, 1e-5);
  with_adapter.adapter = exact_options.out.string();
  const std::unique_ptr<model::Model> exactly_adapted = model::Model::load(tiny_model_folder(), with_adapter);

  const nlohmann::json fixture = read_fixture("export-adapter-" + mode_name);
  ASSERT_FALSE(fixture.is_null()) << "no fixture for " << mode_name << ": run tests/reference/make_export_fixtures.py";
  for (size_t i = 0; i < std::size(kPrompts); ++i) {
    const torch::Tensor hooked = last_logits(original, kPrompts[i], tiny.hook.get());
    const torch::Tensor ours = last_logits(*adapted, kPrompts[i], nullptr);
    if (mode != config::RowNormalization::full) {
      EXPECT_LE(relative_error(ours, hooked), kRelativeTolerance) << mode_name << ", prompt " << i;
    }
    EXPECT_LE(relative_error(last_logits(*exactly_adapted, kPrompts[i], nullptr), hooked), kRelativeTolerance)
        << mode_name << ", prompt " << i;
    const torch::Tensor peft = torch::tensor(fixture["prompts"][i].at("last_logits").get<std::vector<float>>());
    EXPECT_LE(relative_error(peft, ours), kRelativeTolerance) << mode_name << ", prompt " << i;
    std::printf("%s adapter prompt %zu: ours vs hooked %.2e, PEFT vs ours %.2e\n", mode_name.c_str(), i,
                relative_error(ours, hooked), relative_error(peft, ours));
  }
}

// A GGUF input (the real SmolLM2 Q4_1 and Gemma 3 Q4_K_M, which scripts/setup installs) exports
// as an HF folder: dequantized (float32 here, so that only the export is
// measured), llama's Q/K permutation undone, config.json, tokenizer.json and
// the chat template written from the metadata. Our runtime loads the folder
// and gives the hooked GGUF model's logits; transformers does too (fixtures
// export-gguf-<model>.json: the first prompt's ids and logits).
class GgufExportTest : public ::testing::TestWithParam<const char*> {};

TEST_P(GgufExportTest, ExportedFolderGivesTheHookedGgufLogits) {
  const std::string tag = std::string(GetParam()).starts_with("gemma") ? "gemma3" : "smollm2";
  const HookedTrial real = real_hooked_trial(GetParam(), config::RowNormalization::none);
  const model::Model& original = *real.original;

  TempDir dir("gguf_export");
  ExportOptions options;
  options.out = export_root(dir) / ("export-gguf-" + tag);
  options.force = true;
  options.dtype = config::DType::float32;
  const ExportSummary summary = export_hf_folder(real.study, real.trial, options);
  EXPECT_GT(summary.n_ablated_matrices, 10);
  for (const char* file : {"config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                           "chat_template.jinja", "model.safetensors", "README.md", "abliterate.json"}) {
    EXPECT_TRUE(std::filesystem::exists(options.out / file)) << file;
  }
  const std::unique_ptr<model::Model> exported = model::Model::load(options.out, {});
  EXPECT_EQ(exported->chat_template().source(), original.chat_template().source());

  const nlohmann::json fixture = read_fixture("export-gguf-" + tag);
  ASSERT_FALSE(fixture.is_null()) << "no fixture: run tests/reference/make_export_fixtures.py";
  for (size_t i = 0; i < std::size(kPrompts); ++i) {
    const std::string rendered = original.chat_template().render({{"user", kPrompts[i]}}, true);
    EXPECT_EQ(exported->tokenizer().encode(rendered), original.tokenizer().encode(rendered)) << "prompt " << i;
    const torch::Tensor hooked = last_logits(original, kPrompts[i], real.hook.get());
    const torch::Tensor ours = last_logits(*exported, kPrompts[i], nullptr);
    EXPECT_LE(relative_error(ours, hooked), kRelativeTolerance) << "prompt " << i;
    EXPECT_GT(relative_error(hooked, last_logits(original, kPrompts[i], nullptr)), 1e-3) << "prompt " << i;
    std::printf("%s prompt %zu: exported vs hooked %.2e\n", tag.c_str(), i, relative_error(ours, hooked));
  }
  const nlohmann::json& first = fixture.at("prompts").at(0);
  const std::string rendered = original.chat_template().render({{"user", kPrompts[0]}}, true);
  EXPECT_EQ(first.at("input_ids").get<std::vector<int64_t>>(), original.tokenizer().encode(rendered))
      << "transformers tokenizes the exported tokenizer.json otherwise";
  // The fixture holds the first logits of the vocabulary (all of SmolLM2's 49k, 16k of Gemma's 262k).
  const torch::Tensor transformers = torch::tensor(first.at("last_logits").get<std::vector<float>>());
  const double error =
      relative_error(transformers, last_logits(original, kPrompts[0], real.hook.get()).slice(0, 0, transformers.size(0)));
  EXPECT_LE(error, kRelativeTolerance);
  std::printf("%s prompt 0: transformers vs hooked %.2e\n", tag.c_str(), error);
}

INSTANTIATE_TEST_SUITE_P(RealModels, GgufExportTest,
                         ::testing::Values("SmolLM2-135M-Instruct.Q4_1.gguf", "gemma-3-270m-q4_k_m.gguf"));

// export --gguf: a trial of each real GGUF written as a GGUF again. In F32 our
// loader reads it as the hooked original (the quantized values were exact in
// float32; llama's Q/K permutation and Gemma's norm offset are redone and
// undone again); in Q8_0 the quantization costs a little.
TEST(GgufFileExportTest, GgufFileGivesTheHookedGgufLogits) {
  struct Case {
    const char* model;
    formats::GgmlType type;
    double bound;
  };
  for (const Case& c : {Case{"SmolLM2-135M-Instruct.Q4_1.gguf", formats::GgmlType::f32, kRelativeTolerance},
                        Case{"SmolLM2-135M-Instruct.Q4_1.gguf", formats::GgmlType::q8_0, 5e-2},
                        Case{"gemma-3-270m-q4_k_m.gguf", formats::GgmlType::f32, kRelativeTolerance}}) {
    const std::string type_name = formats::ggml_type_traits(c.type).name;
    const HookedTrial real = real_hooked_trial(c.model, config::RowNormalization::full);

    TempDir dir("gguf_file_export");
    ExportOptions options;
    options.out = dir.path() / "out";
    const ExportSummary summary = export_gguf_file(real.study, real.trial, options, c.type);
    EXPECT_GT(summary.n_ablated_matrices, 10);
    const std::string file =
        std::filesystem::path(c.model).stem().string() + "-abliterated-" + type_name + ".gguf";
    const std::unique_ptr<model::Model> exported = model::Model::load(options.out / file, {});
    for (size_t i = 0; i < std::size(kPrompts); ++i) {
      const torch::Tensor hooked = last_logits(*real.original, kPrompts[i], real.hook.get());
      const double error = relative_error(last_logits(*exported, kPrompts[i], nullptr), hooked);
      EXPECT_LE(error, c.bound) << c.model << " " << type_name << ", prompt " << i;
      EXPECT_GT(relative_error(hooked, last_logits(*real.original, kPrompts[i], nullptr)), 1e-3);
      std::printf("%s %s prompt %zu: exported vs hooked %.2e\n", c.model, type_name.c_str(), i, error);
    }
  }
  const std::unique_ptr<model::Model> tiny = model::Model::load(tiny_model_folder(), {});
  TempDir dir("gguf_from_hf");
  ExportOptions options;
  options.out = dir.path() / "from-hf";
  ASSERT_THROWS_WITH(export_gguf_file(tiny_study(config::RowNormalization::none, *tiny), tiny_trial(), options,
                                      formats::GgmlType::q8_0),
                     abliterate::InputError, "export --gguf writes GGUF files from GGUF models");
  EXPECT_FALSE(std::filesystem::exists(options.out));
}

INSTANTIATE_TEST_SUITE_P(Modes, HfExportTest,
                         ::testing::Values(config::RowNormalization::none, config::RowNormalization::pre,
                                           config::RowNormalization::full),
                         [](const auto& info) { return std::string(config::to_string(info.param)); });

}  // namespace
}  // namespace abliterate::exporter
