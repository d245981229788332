// Heretic's config.toml -> job: every setting of method spec §2 passes
// through under its own name and loads with the job loader.
#include "abliterate/config/heretic_config.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "abliterate/common/error.hpp"
#include "abliterate/config/job_loader.hpp"
#include "support/throws_with.hpp"

namespace abliterate::config {
namespace {

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

const std::filesystem::path kSample = std::filesystem::path(ABL_SOURCE_DIR) / "tests/fixtures/heretic/config.toml";

TEST(HereticConfigTest, EverySettingConvertsAndLoads) {
  const ConvertedConfig converted = convert_heretic_config(read_text(kSample), kSample.string());
  const std::string yaml = job_to_yaml(converted);
  const Job job = parse_job(yaml, "/jobs/converted.yaml");

  EXPECT_EQ(job.model, "models/tiny");
  EXPECT_EQ(job.evaluate_model, std::optional<std::string>("models/other"));
  EXPECT_EQ(job.dtypes, (std::vector<DType>{DType::bfloat16, DType::float32}));  // "auto" left out
  EXPECT_EQ(job.quantization, Quantization::none);
  EXPECT_EQ(job.device_map, "cpu");
  EXPECT_EQ(job.device, "cpu");  // device_map stands for device
  EXPECT_EQ(job.max_memory, (std::map<std::string, std::string>{{"0", "20GB"}, {"cpu", "64GB"}}));
  EXPECT_EQ(job.trust_remote_code, std::optional<bool>(true));
  EXPECT_EQ(job.batch_size, 0);  // auto-detection, as in Heretic
  EXPECT_EQ(job.max_batch_size, 64);
  EXPECT_EQ(job.max_response_length, 20);
  EXPECT_TRUE(job.print_responses);
  EXPECT_TRUE(job.print_residual_geometry);
  EXPECT_TRUE(job.plot_residuals);
  EXPECT_EQ(job.residual_plot_path, "my_plots");
  EXPECT_EQ(job.residual_plot_title, "Residuals");
  EXPECT_EQ(job.residual_plot_style, "ggplot");
  EXPECT_DOUBLE_EQ(job.kl_divergence_scale, 2.0);
  EXPECT_DOUBLE_EQ(job.kl_divergence_target, 0.05);
  EXPECT_TRUE(job.orthogonalize_direction);
  EXPECT_EQ(job.row_normalization, RowNormalization::full);
  EXPECT_EQ(job.full_normalization_lora_rank, 4);
  EXPECT_DOUBLE_EQ(job.winsorization_quantile, 0.95);
  EXPECT_EQ(job.n_trials, 30);
  EXPECT_EQ(job.n_startup_trials, 10);
  EXPECT_EQ(job.study_checkpoint_dir, "ckpt");
  EXPECT_EQ(job.refusal_markers, (std::vector<std::string>{"sorry", "i can't", "I CANNOT"}));
  EXPECT_EQ(job.system_prompt, "You are a careful assistant.");
  EXPECT_EQ(job.response_prefix, std::optional<std::string>("<think></think>"));
  EXPECT_EQ(job.chain_of_thought_skips,
            (std::vector<ChainOfThoughtSkip>{{"<think>", "<think></think>"}, {"[THINK]", "[THINK][/THINK]"}}));
  EXPECT_EQ(job.good_prompts.dataset, "datasets/harmless");
  EXPECT_EQ(job.good_prompts.split, "train[:40]");
  EXPECT_EQ(job.good_prompts.prefix, "Please:");
  EXPECT_EQ(job.good_prompts.suffix, "Thanks.");
  EXPECT_EQ(job.good_prompts.system_prompt, std::optional<std::string>("Be brief."));
  EXPECT_EQ(job.good_prompts.residual_plot_label, std::optional<std::string>("\"Harmless\" prompts"));
  EXPECT_EQ(job.bad_prompts.residual_plot_color, std::optional<std::string>("darkorange"));
  EXPECT_EQ(job.good_evaluation_prompts.split, "test[:10]");
  EXPECT_EQ(job.bad_evaluation_prompts.dataset, "datasets/harmful");

  // The values left out are said in comments at the top.
  EXPECT_NE(yaml.find("# dtypes: \"auto\" left out"), std::string::npos);
}

TEST(HereticConfigTest, EmptyConfigGivesEveryDefault) {
  ConvertedConfig converted = convert_heretic_config("", "config.toml");
  EXPECT_TRUE(converted.notes.empty());
  converted.job["model"] = "m";
  Job defaults;
  defaults.model = "m";
  defaults.source_path = "x.yaml";
  EXPECT_EQ(parse_job(job_to_yaml(converted), "x.yaml"), defaults);
}

TEST(HereticConfigTest, FloatsStayFloatsAndStringsStayStrings) {
  const ConvertedConfig converted =
      convert_heretic_config("model = \"true\"\nkl_divergence_scale = 1.0\nsystem_prompt = \"null\"\n", "c.toml");
  const std::string yaml = job_to_yaml(converted);
  EXPECT_NE(yaml.find("kl_divergence_scale: 1.0"), std::string::npos) << yaml;
  const Job job = parse_job(yaml, "x.yaml");
  EXPECT_EQ(job.model, "true");
  EXPECT_EQ(job.system_prompt, "null");
}

TEST(HereticConfigTest, TomlSyntaxErrorNamesFileLineAndColumn) {
  ASSERT_THROWS_WITH(convert_heretic_config("model = \"m\"\nn_trials = = 3\n", "config.toml"), InputError,
                     "config.toml:2:");
}

TEST(HereticConfigTest, DatesAreRefusedWithTheirKey) {
  const std::string toml = "[good_prompts]\ndataset = 1979-05-27\n";
  ASSERT_THROWS_WITH(convert_heretic_config(toml, "config.toml"), InputError, "config.toml:2:");
  ASSERT_THROWS_WITH(convert_heretic_config(toml, "config.toml"), InputError,
                     "good_prompts.dataset: dates and times have no meaning in a job");
}

// Heretic 1.4's export, benchmark and reproducibility settings say nothing
// about the study: they leave the job, each with a note saying why.
TEST(HereticConfigTest, Heretic14SettingsOutsideTheStudyAreLeftOutWithNotes) {
  const std::string toml =
      "model = \"m\"\nexport_strategy = \"adapter\"\nmax_shard_size = \"5GB\"\noffload_outputs_to_cpu = true\n"
      "model_commit = \"abc\"\nbenchmarks = [\"mmlu\"]\nreproduce = false\ncollect_reproducibles = true\n";
  const ConvertedConfig converted = convert_heretic_config(toml, "config.toml");
  EXPECT_EQ(converted.notes.size(), 7u);
  EXPECT_EQ(converted.job, nlohmann::json({{"model", "m"}}));
  const std::string yaml = job_to_yaml(converted);
  EXPECT_NE(yaml.find("# export_strategy left out"), std::string::npos) << yaml;
  EXPECT_EQ(parse_job(yaml, "x.yaml").model, "m");
}

TEST(HereticConfigTest, UnknownKeyIsReportedByTheJobSchema) {
  ConvertedConfig converted = convert_heretic_config("model = \"m\"\nn_trails = 3\n", "config.toml");
  ASSERT_THROWS_WITH(parse_job(job_to_yaml(converted), "config.toml"), InputError, "n_trails");
}

}  // namespace
}  // namespace abliterate::config
