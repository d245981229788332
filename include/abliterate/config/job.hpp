// Module config: job YAML -> schema validation -> the typed Job, and a trial's ablation parameters.
// Must not know: models, stores or MPI: a Job is plain data for the modules right of it.
//
// The typed study job: everything a run reads from its YAML file. Parsed once
// by load_job(); no YAML node travels past this module. Defaults equal
// Heretic v1.2.0's (spec/method-heretic.md §2) unless a comment says otherwise.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "abliterate/config/ablation_params.hpp"

namespace abliterate::config {

// Element type the model runs in.
enum class DType { float32, bfloat16, float16 };

// Heretic's load-time quantization (method spec §2). Only `none` runs here:
// bnb_4bit is accepted so Heretic configurations load, and refused when the
// model is loaded (a quantized GGUF file is this program's equivalent).
enum class Quantization { none, bnb_4bit };

// Which objectives the sampler optimizes (method spec §6.4).
enum class Objectives {
  heretic,  // v1.2.0's (kl_score, refusal_score), with v1.3.0's R0 = 0 guard
  raw,      // (KL divergence, refusals) directly
};

// How the coordinator proposes trial parameters.
enum class SamplerKind {
  tpe,     // Optuna 5.0's TPE as Heretic configures it (multivariate, 128 candidates)
  random,  // Optuna's RandomSampler throughout
};

// One prompt set (Heretic's DatasetSpecification).
struct PromptSetSpec {
  std::string dataset;                       // folder with <split>.jsonl, or a file; relative to the job file
  std::string split = "train";               // HF split syntax, e.g. "train[:400]"
  std::string column = "text";               // field holding the prompt
  std::string prefix;                        // prepended with one space when non-empty
  std::string suffix;                        // appended with one space when non-empty
  std::optional<std::string> system_prompt;  // unset: the job's system_prompt
  std::optional<std::string> residual_plot_label;  // Heretic's plot legend; accepted, no plots are drawn here
  std::optional<std::string> residual_plot_color;  // Heretic's plot colour; accepted, no plots are drawn here

  friend bool operator==(const PromptSetSpec&, const PromptSetSpec&) = default;
};

// A prompt set with every field at its default but these two.
inline PromptSetSpec default_prompt_set(std::string dataset, std::string split) {
  PromptSetSpec spec;
  spec.dataset = std::move(dataset);
  spec.split = std::move(split);
  return spec;
}

// Heretic v1.2.0's default refusal markers, in order (method spec §2).
const std::vector<std::string>& default_refusal_markers();

// A chain-of-thought skip (Heretic v1.3.0, method spec §3.4 step 3): a
// detected response prefix that starts with `start` is replaced by `full`,
// which closes the thinking block.
struct ChainOfThoughtSkip {
  std::string start;  // e.g. "<think>"
  std::string full;   // e.g. "<think></think>"

  friend bool operator==(const ChainOfThoughtSkip&, const ChainOfThoughtSkip&) = default;
};

// Heretic's four skips, in its order: <think>, gpt-oss analysis channel, <thought>, [THINK].
const std::vector<ChainOfThoughtSkip>& default_chain_of_thought_skips();

struct Job {
  // Where the job came from; relative input paths resolve against its folder.
  std::filesystem::path source_path;

  // --- model ---
  std::string model;                             // model folder (HF layout) or .gguf file; required
  std::optional<std::string> adapter;            // PEFT LoRA adapter folder merged at load; relative to the job file
  std::vector<DType> dtypes = {DType::float32};  // tried in order; Heretic's "auto" has no meaning here
  std::string device = "auto";                   // "auto" (CUDA when present), "cpu", "cuda"
  // Heretic's name for the placement; a job that sets only device_map gets it
  // as `device` (auto, cpu or cuda: one model per worker, nothing is split).
  std::string device_map = "auto";
  Quantization quantization = Quantization::none;
  // Per-device memory limits (Heretic: accelerate's max_memory). Accepted, no
  // effect: a worker holds its whole model on one device.
  std::optional<std::map<std::string, std::string>> max_memory;
  // Accepted, no effect: no code from the model folder is ever run here.
  std::optional<bool> trust_remote_code;
  // Another model to measure against this one (Heretic's evaluation mode, spec
  // §1 step 11): the default of `abliterate evaluate JOB --model`.
  std::optional<std::string> evaluate_model;

  // --- generation ---
  int64_t batch_size = 0;             // prompts per forward batch; 0: each worker times sizes and picks (spec §3.5)
  int64_t max_batch_size = 128;       // upper bound for auto-detection
  int64_t max_response_length = 100;  // new tokens when counting refusals
  bool print_responses = false;       // print each prompt and response while counting refusals (`evaluate`, trials)
  // Heretic v1.3.0: the text appended to every rendered prompt (method spec
  // §3.4); unset: detected in the preparation phase.
  std::optional<std::string> response_prefix;
  std::vector<ChainOfThoughtSkip> chain_of_thought_skips = default_chain_of_thought_skips();

  // --- method ---
  double kl_divergence_scale = 1.0;      // s in method spec §6.4
  double kl_divergence_target = 0.01;    // t in method spec §6.4
  bool orthogonalize_direction = false;  // method spec §4.3
  RowNormalization row_normalization = RowNormalization::none;
  int64_t full_normalization_lora_rank = 3;  // accepted for Heretic parity; `full` is exact here (DESIGN.md §3)
  double winsorization_quantile = 1.0;       // 1.0 = off (method spec §4.2)
  Objectives objectives = Objectives::heretic;

  // --- research features (method spec §10): accepted for Heretic parity, not implemented ---
  bool print_residual_geometry = false;
  bool plot_residuals = false;
  std::string residual_plot_path = "plots";
  std::string residual_plot_title = "PaCMAP Projection of Residual Vectors for \"Harmless\" and \"Harmful\" Prompts";
  std::string residual_plot_style = "dark_background";

  // --- study ---
  int64_t n_trials = 200;
  int64_t n_startup_trials = 60;
  SamplerKind sampler = SamplerKind::tpe;
  std::string study_name = "heretic";
  uint64_t seed = 0;  // seeds the sampler; stored with the study
  // Seconds the trials in flight get after a stop signal before they are
  // recorded interrupted (Slurm's preemption warning, issue 12).
  double grace_period = 60.0;
  // Seconds a worker may take on one trial before it is taken as hung.
  double worker_timeout = 3600.0;
  // Trials a worker evaluates together, their rows sharing forward batches
  // (each row ablated as its trial says); the results equal one at a time.
  int64_t trials_per_worker = 1;
  // Heretic's journal folder; accepted, no effect: the study lives in `store`.
  std::string study_checkpoint_dir = "checkpoints";
  // Parameters to run before any sampled trial (Optuna's enqueue_trial), in
  // the form Heretic prints them: min_weight absolute, direction_index nullopt
  // for "per layer". Each runs once per study; a resumed run skips the ones
  // already in the store.
  std::vector<config::AblationParams> enqueue_trials;

  // --- prompts ---
  std::vector<std::string> refusal_markers = default_refusal_markers();  // Heretic's 32, case-insensitive substrings
  std::string system_prompt = "You are a helpful assistant.";
  // Heretic's defaults name Hugging Face Hub datasets, which this program
  // cannot download: they only give the splits their defaults, and a job must
  // set `dataset` to a local copy (load_prompt_set says so when it is missing).
  PromptSetSpec good_prompts = default_prompt_set("mlabonne/harmless_alpaca", "train[:400]");
  PromptSetSpec bad_prompts = default_prompt_set("mlabonne/harmful_behaviors", "train[:400]");
  PromptSetSpec good_evaluation_prompts = default_prompt_set("mlabonne/harmless_alpaca", "test[:100]");
  PromptSetSpec bad_evaluation_prompts = default_prompt_set("mlabonne/harmful_behaviors", "test[:100]");

  // --- outputs (relative paths resolve against the current directory) ---
  std::filesystem::path store = "study.db";  // SQLite store, Optuna schema
  std::filesystem::path cache = "cache.h5";  // HDF5 residual / direction / baseline cache
  std::filesystem::path output = "output";   // reports and exports

  // The job's input path `p` resolved against the job file's folder: an
  // absolute path is returned as is, a relative one is joined to the folder of
  // source_path (the current directory when source_path has none).
  std::filesystem::path resolve_input(const std::string& p) const;

  friend bool operator==(const Job&, const Job&) = default;
};

// Spellings shared by YAML, the store and messages (the schema's enums).
const char* to_string(RowNormalization v);
const char* to_string(DType v);
const char* to_string(Objectives v);
const char* to_string(Quantization v);
const char* to_string(SamplerKind v);

// The inverse of to_string; nullopt for a spelling that names no value.
std::optional<RowNormalization> parse_row_normalization(std::string_view text);
std::optional<DType> parse_dtype(std::string_view text);
std::optional<Objectives> parse_objectives(std::string_view text);
std::optional<Quantization> parse_quantization(std::string_view text);
std::optional<SamplerKind> parse_sampler_kind(std::string_view text);

}  // namespace abliterate::config
