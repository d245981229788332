#include "abliterate/config/job_loader.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>

#include "abliterate/common/error.hpp"
#include "abliterate/config/job_keys.hpp"
#include "abliterate/config/json_schema.hpp"
#include "support/scoped_env.hpp"
#include "support/throws_with.hpp"

namespace abliterate::config {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A fresh folder under the system temp dir, removed with the object.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() / fmt::format("abl_config_test_{}_{}", ::getpid(), counter++);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const fs::path& path() const { return path_; }
  fs::path write(const std::string& name, const std::string& text) const {
    const fs::path file = path_ / name;
    fs::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << text;
    return file;
  }

 private:
  fs::path path_;
};

// The message of the InputError that parse_job throws for `yaml`.
std::string error_of(const std::string& yaml) {
  try {
    parse_job(yaml, "jobs/x.yaml");
  } catch (const InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no InputError for:\n" << yaml;
  return "";
}

TEST(JobLoader, MinimalJobHasHereticDefaults) {
  const Job job = parse_job("model: models/tiny\n", "jobs/x.yaml");
  EXPECT_EQ(job.model, "models/tiny");
  EXPECT_EQ(job.source_path, fs::path("jobs/x.yaml"));
  // method spec §2
  EXPECT_EQ(job.dtypes, std::vector<DType>{DType::float32});
  EXPECT_EQ(job.device, "auto");
  EXPECT_EQ(job.batch_size, 0);  // Heretic's auto-detection
  EXPECT_EQ(job.max_batch_size, 128);
  EXPECT_EQ(job.max_response_length, 100);
  EXPECT_EQ(job.kl_divergence_scale, 1.0);
  EXPECT_EQ(job.kl_divergence_target, 0.01);
  EXPECT_FALSE(job.orthogonalize_direction);
  EXPECT_EQ(job.row_normalization, RowNormalization::none);
  EXPECT_EQ(job.full_normalization_lora_rank, 3);
  EXPECT_EQ(job.winsorization_quantile, 1.0);
  EXPECT_EQ(job.objectives, Objectives::heretic);
  EXPECT_EQ(job.n_trials, 200);
  EXPECT_EQ(job.n_startup_trials, 60);
  EXPECT_EQ(job.study_name, "heretic");
  EXPECT_EQ(job.seed, 0u);
  EXPECT_EQ(job.refusal_markers, default_refusal_markers());
  EXPECT_EQ(job.system_prompt, "You are a helpful assistant.");
  EXPECT_EQ(job.good_prompts.split, "train[:400]");
  EXPECT_EQ(job.bad_prompts.split, "train[:400]");
  EXPECT_EQ(job.good_evaluation_prompts.split, "test[:100]");
  EXPECT_EQ(job.bad_evaluation_prompts.split, "test[:100]");
  EXPECT_EQ(job.good_prompts.column, "text");
  EXPECT_EQ(job.good_prompts.dataset, "mlabonne/harmless_alpaca");
  EXPECT_EQ(job.bad_evaluation_prompts.dataset, "mlabonne/harmful_behaviors");
  EXPECT_FALSE(job.good_prompts.system_prompt.has_value());
  EXPECT_EQ(job.store, fs::path("study.db"));
  EXPECT_EQ(job.cache, fs::path("cache.h5"));
  EXPECT_EQ(job.output, fs::path("output"));

  Job expected;
  expected.model = "models/tiny";
  expected.source_path = "jobs/x.yaml";
  EXPECT_EQ(job, expected);
}

TEST(JobLoader, FullJobIsTyped) {
  const Job job = parse_job(R"(
model: /models/gemma
dtypes: [bfloat16, float32]
device: cuda
batch_size: 16
max_batch_size: 64
max_response_length: 50
kl_divergence_scale: 2
kl_divergence_target: 0.05
orthogonalize_direction: true
row_normalization: full
full_normalization_lora_rank: 4
winsorization_quantile: 0.95
objectives: raw
n_trials: 10
n_startup_trials: 0
study_name: gemma-1
seed: 4294967295
refusal_markers: ["sorry", "i cannot"]
system_prompt: ""
good_prompts:
  dataset: data/harmless
  prefix: Please
good_evaluation_prompts:
  dataset: data/harmless
  split: test[:10]
  suffix: "Thanks."
  system_prompt: Be brief.
bad_prompts: {dataset: data/harmful, column: goal}
store: out/s.db
cache: out/c.h5
output: out
)",
                            "jobs/x.yaml");
  EXPECT_EQ(job.dtypes, (std::vector<DType>{DType::bfloat16, DType::float32}));
  EXPECT_EQ(job.device, "cuda");
  EXPECT_EQ(job.batch_size, 16);
  EXPECT_EQ(job.max_batch_size, 64);
  EXPECT_EQ(job.max_response_length, 50);
  EXPECT_EQ(job.kl_divergence_scale, 2.0);
  EXPECT_EQ(job.kl_divergence_target, 0.05);
  EXPECT_TRUE(job.orthogonalize_direction);
  EXPECT_EQ(job.row_normalization, RowNormalization::full);
  EXPECT_EQ(job.full_normalization_lora_rank, 4);
  EXPECT_EQ(job.winsorization_quantile, 0.95);
  EXPECT_EQ(job.objectives, Objectives::raw);
  EXPECT_EQ(job.n_trials, 10);
  EXPECT_EQ(job.n_startup_trials, 0);
  EXPECT_EQ(job.study_name, "gemma-1");
  EXPECT_EQ(job.seed, 4294967295u);
  EXPECT_EQ(job.refusal_markers, (std::vector<std::string>{"sorry", "i cannot"}));
  EXPECT_EQ(job.system_prompt, "");
  // A prompt set keeps its key's defaults for the fields it leaves out.
  EXPECT_EQ(job.good_prompts.dataset, "data/harmless");
  EXPECT_EQ(job.good_prompts.split, "train[:400]");
  EXPECT_EQ(job.good_prompts.prefix, "Please");
  EXPECT_EQ(job.good_evaluation_prompts.split, "test[:10]");
  EXPECT_EQ(job.good_evaluation_prompts.suffix, "Thanks.");
  EXPECT_EQ(job.good_evaluation_prompts.system_prompt, std::optional<std::string>("Be brief."));
  EXPECT_EQ(job.bad_prompts.column, "goal");
  EXPECT_EQ(job.bad_prompts.split, "train[:400]");
  EXPECT_EQ(job.bad_evaluation_prompts.split, "test[:100]");
  EXPECT_EQ(job.store, fs::path("out/s.db"));
  EXPECT_EQ(job.cache, fs::path("out/c.h5"));
  EXPECT_EQ(job.output, fs::path("out"));
}

TEST(JobLoader, MissingFile) {
  ASSERT_THROWS_WITH(load_job("/nonexistent/abl/job.yaml"), InputError, "/nonexistent/abl/job.yaml: no such job file");
  TempDir dir;
  ASSERT_THROWS_WITH(load_job(dir.path()), InputError, "is a folder; expected a job file");
}

TEST(JobLoader, LoadsFromFile) {
  TempDir dir;
  const fs::path file = dir.write("jobs/a.yaml", "model: ../models/m\nn_trials: 5\n");
  const Job job = load_job(file);
  EXPECT_EQ(job.source_path, file);
  EXPECT_EQ(job.n_trials, 5);
  EXPECT_EQ(job.resolve_input(job.model), dir.path() / "models/m");
}

TEST(JobLoader, BadYamlNamesFileAndLine) {
  TempDir dir;
  const fs::path file = dir.write("bad.yaml", "model: m\nn_trials: [1, 2\nseed: 3\n");
  ASSERT_THROWS_WITH(load_job(file), InputError, file.string() + ":3:");
  ASSERT_THROWS_WITH(load_job(file), InputError, "not valid YAML");
}

TEST(JobLoader, EmptyFile) {
  EXPECT_EQ(error_of(""), "jobs/x.yaml: the job is empty; expected a mapping of job keys with at least \"model\"");
  EXPECT_EQ(error_of("- model: m\n"), "jobs/x.yaml: expected a mapping, got [{\"model\":\"m\"}]");
}

TEST(JobLoader, UnknownKeySuggestsNearest) {
  EXPECT_EQ(error_of("model: m\nn_trails: 3\n"), "jobs/x.yaml: n_trails: unknown key (did you mean \"n_trials\"?)");
  EXPECT_EQ(error_of("model: m\ngood_prompts: {dataset: d, colum: text}\n"),
            "jobs/x.yaml: good_prompts.colum: unknown key (did you mean \"column\"?)");
}

TEST(JobLoader, WrongType) {
  EXPECT_EQ(error_of("model: m\nn_trials: many\n"), "jobs/x.yaml: n_trials: expected an integer >= 1, got \"many\"");
  EXPECT_EQ(error_of("model: m\nn_trials: 2.5\n"), "jobs/x.yaml: n_trials: expected an integer >= 1, got 2.5");
  EXPECT_EQ(error_of("model: m\northogonalize_direction: yes\n"),
            "jobs/x.yaml: orthogonalize_direction: expected true or false, got \"yes\"");
  EXPECT_EQ(error_of("model: 3\n"), "jobs/x.yaml: model: expected a non-empty string, got 3");
  EXPECT_EQ(error_of("model: m\nstudy_name: '12'\nseed: '12'\n"),
            "jobs/x.yaml: seed: expected an integer in [0, 4294967295], got \"12\"");
  EXPECT_EQ(error_of("model: m\nrefusal_markers: sorry\n"),
            "jobs/x.yaml: refusal_markers: expected a non-empty list of strings, got \"sorry\"");
}

TEST(JobLoader, ValueOutOfRange) {
  // The example in job_loader.hpp.
  EXPECT_EQ(error_of("model: m\nn_trials: -3\n"), "jobs/x.yaml: n_trials: expected an integer >= 1, got -3");
  EXPECT_EQ(error_of("model: m\nwinsorization_quantile: 1.5\n"),
            "jobs/x.yaml: winsorization_quantile: expected a number in [0, 1], got 1.5");
  EXPECT_EQ(error_of("model: m\nkl_divergence_scale: 0\n"),
            "jobs/x.yaml: kl_divergence_scale: expected a number > 0, got 0");
  EXPECT_EQ(error_of("model: m\nkl_divergence_scale: .inf\n"),
            "jobs/x.yaml: kl_divergence_scale: expected a number > 0, got .inf");
  EXPECT_EQ(error_of("model: m\nseed: 4294967296\n"),
            "jobs/x.yaml: seed: expected an integer in [0, 4294967295], got 4294967296");
  EXPECT_EQ(error_of("model: m\nrefusal_markers: [sorry, '']\n"),
            "jobs/x.yaml: refusal_markers[1]: expected a non-empty string, got \"\"");
  EXPECT_EQ(error_of("model: m\nbatch_size: -1\n"), "jobs/x.yaml: batch_size: expected an integer >= 0, got -1");
}

TEST(JobLoader, MissingRequiredModel) {
  EXPECT_EQ(error_of("n_trials: 3\n"), "jobs/x.yaml: model: missing required key");
  EXPECT_EQ(error_of("model: m\nbad_prompts: {split: 'train[:5]'}\n"),
            "jobs/x.yaml: bad_prompts.dataset: missing required key");
}

TEST(JobLoader, NestedKeyPath) {
  EXPECT_EQ(error_of("model: m\ngood_prompts:\n  dataset: d\n  split: 3\n"),
            "jobs/x.yaml: good_prompts.split: expected a non-empty string, got 3");
  EXPECT_EQ(error_of("model: m\ngood_prompts: data/x\n"),
            "jobs/x.yaml: good_prompts: expected a mapping, got \"data/x\"");
}

TEST(JobLoader, EnumWithBadValue) {
  EXPECT_EQ(error_of("model: m\nrow_normalization: post\n"),
            "jobs/x.yaml: row_normalization: expected one of none, pre, full; got \"post\"");
  EXPECT_EQ(error_of("model: m\ndtypes: [bf16]\n"),
            "jobs/x.yaml: dtypes[0]: expected one of float32, bfloat16, float16; got \"bf16\" (did you mean "
            "\"bfloat16\"?)");
  EXPECT_EQ(error_of("model: m\ndevice: cdua\n"),
            "jobs/x.yaml: device: expected one of auto, cpu, cuda; got \"cdua\" (did you mean \"cuda\"?)");
}

TEST(JobLoader, ListsEveryViolation) {
  const std::string message = error_of("n_trials: 0\nseed: -1\n");
  EXPECT_NE(message.find("jobs/x.yaml: model: missing required key"), std::string::npos) << message;
  EXPECT_NE(message.find("jobs/x.yaml: n_trials: expected an integer >= 1, got 0"), std::string::npos) << message;
  EXPECT_NE(message.find("jobs/x.yaml: seed: expected an integer in [0, 4294967295], got -1"), std::string::npos)
      << message;
}

TEST(JobLoader, IntegerValuedFloatIsAnInteger) {
  EXPECT_EQ(parse_job("model: m\nn_trials: 20.0\n", "x.yaml").n_trials, 20);
}

Job non_default_job() {
  Job job;
  job.source_path = "/jobs/x.yaml";
  job.model = "/models/m";
  job.dtypes = {DType::float16, DType::bfloat16};
  job.device = "cpu";
  job.device_map = "cuda";
  job.evaluate_model = "/models/other";
  job.quantization = Quantization::bnb_4bit;
  job.max_memory = std::map<std::string, std::string>{{"0", "20GB"}, {"cpu", "64GB"}};
  job.trust_remote_code = false;
  job.print_responses = true;
  job.response_prefix = "<think></think>\n";
  job.chain_of_thought_skips = {{"<a>", "<a></a>"}};
  job.print_residual_geometry = true;
  job.plot_residuals = true;
  job.residual_plot_path = "p";
  job.residual_plot_title = "t";
  job.residual_plot_style = "st";
  job.study_checkpoint_dir = "ck";
  config::AblationParams enqueued;
  enqueued.attn_o_proj = {.max_weight = 1.19, .max_weight_position = 14.72, .min_weight = 0.16, .min_weight_distance = 2.27};
  enqueued.mlp_down_proj = {.max_weight = 1.47, .max_weight_position = 12.86, .min_weight = 0.81, .min_weight_distance = 7.47};
  job.enqueue_trials = {enqueued, enqueued};
  job.enqueue_trials[1].direction_index = 10.5;
  job.batch_size = 3;
  job.max_batch_size = 9;
  job.max_response_length = 7;
  job.kl_divergence_scale = 0.125;
  job.kl_divergence_target = 0.3;
  job.orthogonalize_direction = true;
  job.row_normalization = RowNormalization::pre;
  job.full_normalization_lora_rank = 5;
  job.winsorization_quantile = 0.9;
  job.objectives = Objectives::raw;
  job.n_trials = 11;
  job.n_startup_trials = 2;
  job.study_name = "s";
  job.seed = 1234567;
  job.refusal_markers = {"nope", "no way"};
  job.system_prompt = "sys";
  job.good_prompts = {
      .dataset = "a", .split = "train", .column = "c", .prefix = "p", .suffix = "s", .system_prompt = "own",
      .residual_plot_label = "l", .residual_plot_color = "red"};
  job.bad_prompts.dataset = "b";
  job.good_evaluation_prompts.system_prompt = "";
  job.bad_evaluation_prompts.suffix = "end";
  job.store = "x.db";
  job.cache = "x.h5";
  job.output = "outdir";
  return job;
}

TEST(JobJson, RoundTripsEveryField) {
  const Job job = non_default_job();
  const json settings = job_to_json(job);
  EXPECT_EQ(job_from_json(settings, job.source_path), job);
  // Through text, as the store and MPI carry it.
  EXPECT_EQ(job_from_json(json::parse(settings.dump()), job.source_path), job);
  // Defaults too.
  Job defaults;
  defaults.model = "m";
  EXPECT_EQ(job_from_json(job_to_json(defaults), ""), defaults);
}

TEST(JobJson, WritesEveryKeyAndValidates) {
  const json settings = job_to_json(non_default_job());
  for (const char* key : kJobKeyNames) EXPECT_TRUE(settings.contains(key)) << key;
  EXPECT_EQ(settings.size(), kJobKeyNames.size());
  EXPECT_EQ(settings["dtypes"], json::parse(R"(["float16", "bfloat16"])"));
  EXPECT_EQ(settings["row_normalization"], "pre");
  EXPECT_EQ(settings["good_prompts"]["system_prompt"], "own");
  EXPECT_FALSE(settings["bad_prompts"].contains("system_prompt"));
  EXPECT_TRUE(JsonSchema::load(job_schema_path()).validate(settings).empty());
}

TEST(JobJson, RejectsInvalidSettings) {
  json settings = job_to_json(non_default_job());
  settings["n_trials"] = 0;
  ASSERT_THROWS_WITH(job_from_json(settings, "/jobs/x.yaml"), InputError,
                     "/jobs/x.yaml: n_trials: expected an integer >= 1, got 0");
}

TEST(JobSchema, PropertiesMatchTheKeyTable) {
  const json schema = JsonSchema::load(job_schema_path()).document();
  std::vector<std::string> schema_keys;
  for (const auto& [key, value] : schema["properties"].items()) schema_keys.push_back(key);
  std::vector<std::string> table_keys(kJobKeyNames.begin(), kJobKeyNames.end());
  std::sort(table_keys.begin(), table_keys.end());
  EXPECT_EQ(schema_keys, table_keys);

  std::vector<std::string> set_keys;
  for (const auto& [key, value] : schema["definitions"]["prompt_set"]["properties"].items()) set_keys.push_back(key);
  std::vector<std::string> set_table(kPromptSetKeyNames.begin(), kPromptSetKeyNames.end());
  std::sort(set_table.begin(), set_table.end());
  EXPECT_EQ(set_keys, set_table);
}

TEST(JobSchema, EnumsMatchTheCppSpellings) {
  const json properties = JsonSchema::load(job_schema_path()).document()["properties"];
  EXPECT_EQ(properties["dtypes"]["items"]["enum"],
            json({to_string(DType::float32), to_string(DType::bfloat16), to_string(DType::float16)}));
  EXPECT_EQ(
      properties["row_normalization"]["enum"],
      json({to_string(RowNormalization::none), to_string(RowNormalization::pre), to_string(RowNormalization::full)}));
  EXPECT_EQ(properties["objectives"]["enum"], json({to_string(Objectives::heretic), to_string(Objectives::raw)}));
}

TEST(JobSchema, DefaultsMatchTheStruct) {
  // The schema's "default" annotations document the struct's defaults.
  const json properties = JsonSchema::load(job_schema_path()).document()["properties"];
  Job defaults;
  defaults.model = "m";
  const json settings = job_to_json(defaults);
  for (const auto& [key, property] : properties.items()) {
    if (!property.contains("default")) continue;
    if (property["default"].is_object()) {
      for (const auto& [field, value] : property["default"].items()) EXPECT_EQ(settings[key][field], value) << key;
    } else {
      EXPECT_EQ(settings[key], property["default"]) << key;
    }
  }
}

TEST(JobSchema, SchemaDirCanBeOverridden) {
  TempDir dir;
  {
    ScopedEnv schema_dir("ABLITERATE_SCHEMA_DIR", dir.path().string());
    EXPECT_EQ(job_schema_path(), dir.path() / "job.schema.json");
    ASSERT_THROWS_WITH(parse_job("model: m\n", "x.yaml"), IoError, "ABLITERATE_SCHEMA_DIR");
    // An installed copy with an extra requirement is the one obeyed.
    json schema = JsonSchema::load(fs::path(ABL_SOURCE_DIR) / "schemas/job.schema.json").document();
    schema["required"].push_back("seed");
    dir.write("job.schema.json", schema.dump());
    ASSERT_THROWS_WITH(parse_job("model: m\n", "x.yaml"), InputError, "x.yaml: seed: missing required key");
  }
  EXPECT_EQ(job_schema_path(), fs::path(ABL_SOURCE_DIR) / "schemas/job.schema.json");
}

TEST(JobLoader, HereticKeysAcceptedWithHereticDefaults) {
  const Job job = parse_job("model: m\n", "x.yaml");
  EXPECT_EQ(job.device_map, "auto");
  EXPECT_EQ(job.quantization, Quantization::none);
  EXPECT_FALSE(job.evaluate_model.has_value());
  EXPECT_FALSE(job.max_memory.has_value());
  EXPECT_FALSE(job.trust_remote_code.has_value());
  EXPECT_FALSE(job.print_responses);
  EXPECT_FALSE(job.response_prefix.has_value());
  EXPECT_EQ(job.chain_of_thought_skips, default_chain_of_thought_skips());
  EXPECT_EQ(job.study_checkpoint_dir, "checkpoints");
  EXPECT_EQ(job.residual_plot_style, "dark_background");
}

TEST(JobLoader, NullsAndHereticShapes) {
  const Job job = parse_job(
      "model: m\nevaluate_model: ~\nresponse_prefix: ''\ntrust_remote_code: true\n"
      "max_memory: {'0': 20GB, cpu: 1000}\nchain_of_thought_skips: [['<t>', '<t></t>']]\n",
      "x.yaml");
  EXPECT_FALSE(job.evaluate_model.has_value());
  EXPECT_EQ(job.response_prefix, std::optional<std::string>(""));  // given empty: no detection
  EXPECT_EQ(job.trust_remote_code, std::optional<bool>(true));
  EXPECT_EQ(job.max_memory, (std::map<std::string, std::string>{{"0", "20GB"}, {"cpu", "1000"}}));
  EXPECT_EQ(job.chain_of_thought_skips, (std::vector<ChainOfThoughtSkip>{{"<t>", "<t></t>"}}));
}

TEST(JobLoader, DeviceMapStandsForDeviceUnlessDeviceIsSet) {
  EXPECT_EQ(parse_job("model: m\ndevice_map: cpu\n", "x.yaml").device, "cpu");
  EXPECT_EQ(parse_job("model: m\ndevice_map: cpu\ndevice: cuda\n", "x.yaml").device, "cuda");
  EXPECT_EQ(error_of("model: m\ndevice_map: balanced\n"),
            "jobs/x.yaml: device_map: expected one of auto, cpu, cuda (one device per worker); got \"balanced\"");
}

TEST(JobLoader, EnqueueTrialsInHereticsPrintedForm) {
  const std::string card =
      "  - direction_index: per layer\n"
      "    attn.o_proj.max_weight: 1.19\n    attn.o_proj.max_weight_position: 14.72\n"
      "    attn.o_proj.min_weight: 0.16\n    attn.o_proj.min_weight_distance: 2.27\n"
      "    mlp.down_proj.max_weight: 1.47\n    mlp.down_proj.max_weight_position: 12.86\n"
      "    mlp.down_proj.min_weight: 0.81\n    mlp.down_proj.min_weight_distance: 7.47\n";
  const Job job = parse_job("model: m\nenqueue_trials:\n" + card, "jobs/x.yaml");
  ASSERT_EQ(job.enqueue_trials.size(), 1u);
  const config::AblationParams& p = job.enqueue_trials[0];
  EXPECT_FALSE(p.direction_index.has_value());
  EXPECT_EQ(p.attn_o_proj.max_weight_position, 14.72);
  EXPECT_EQ(p.attn_o_proj.min_weight, 0.16);
  EXPECT_EQ(p.mlp_down_proj.max_weight, 1.47);
  EXPECT_EQ(p.mlp_down_proj.min_weight_distance, 7.47);

  std::string global = card;
  global.replace(global.find("per layer"), 9, "11.5");
  EXPECT_EQ(parse_job("model: m\nenqueue_trials:\n" + global, "jobs/x.yaml").enqueue_trials[0].direction_index,
            std::optional<double>(11.5));

  std::string typo = card;
  typo.replace(typo.find("per layer"), 9, "per-layer");
  EXPECT_EQ(error_of("model: m\nenqueue_trials:\n" + typo),
            "jobs/x.yaml: enqueue_trials[0].direction_index: expected a float layer index or \"per layer\", got "
            "\"per-layer\"");
  std::string missing = card.substr(0, card.find("    mlp.down_proj.min_weight_distance"));
  EXPECT_NE(error_of("model: m\nenqueue_trials:\n" + missing).find("mlp.down_proj.min_weight_distance"),
            std::string::npos);
}

TEST(JobLoader, ChainOfThoughtSkipMustBeAPair) {
  EXPECT_EQ(error_of("model: m\nchain_of_thought_skips: [['<a>', '<a></a>', 'x']]\n"),
            "jobs/x.yaml: chain_of_thought_skips[0]: expected a pair [start, full] such as "
            "[\"<think>\", \"<think></think>\"], got 3 items");
}

}  // namespace
}  // namespace abliterate::config
