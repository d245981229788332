// Module cli: the subcommands of `abliterate`, each a function of typed options.
// Must not know: logic of its own: what it does, the library does, where tests reach it.
//
// The subcommands of `abliterate`. Each takes typed options built by main's
// CLI11 parser, calls the library, and returns the process exit code. No
// logic lives here that tests cannot reach through the library.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace abliterate::cli {

struct RunArgs {
  std::string job_path;
  std::optional<int64_t> n_trials;   // --n-trials: raise the budget (run additional trials)
  std::optional<std::string> store;  // --store: overrides the job's store path
  std::optional<std::string> cache;  // --cache: overrides the job's cache path
  bool force = false;                // --force: resume despite differing stored settings
};

// `abliterate run JOB`: under mpirun rank 0 coordinates and the other ranks
// work; without it one in-process worker. MPI is initialized here.
int run_command(const RunArgs& args, int* argc, char*** argv);

struct SweepArgs {
  std::string sweep_path;
  std::optional<size_t> entry;  // --entry: this entry only (a Slurm job array task)
};

// `abliterate sweep SWEEP.yaml`: one study per entry; under mpirun the ranks
// are split into groups that run entries side by side. MPI is initialized here.
int sweep_command(const SweepArgs& args, int* argc, char*** argv);

struct StatusArgs {
  std::string store_path;  // a store, or a folder of stores (a sweep's out_dir)
  std::optional<std::string> study_name;  // default: the store's only study
};

// `abliterate status STORE`: the trials table, failures and the Pareto front.
int status_command(const StatusArgs& args);

struct ReportArgs {
  std::string store_path;
  std::string out_path;                   // --out: the HTML report
  std::optional<std::string> csv_path;    // --csv: the trials table as CSV
  std::optional<std::string> json_path;   // --json: the trials table as JSON
  std::optional<std::string> study_name;  // default: the store's only study
};

// `abliterate report STORE --out report.html`: the study's plots and trials
// table as one self-contained HTML file (and the table as CSV/JSON).
int report_command(const ReportArgs& args);

// `abliterate validate JOB`: loads and checks the job and its prompt sets.
int validate_command(const std::string& job_path);

struct TinyModelArgs {
  std::string folder;
  uint64_t seed = 1234;
  std::string family = "gemma3";  // --family: gemma3, llama, mistral, qwen2, qwen3
};

// `abliterate make-tiny-model DIR [--family F]`: writes the tiny random model of a family.
int tiny_model_command(const TinyModelArgs& args);

struct ConvertConfigArgs {
  std::string toml_path;
  std::optional<std::string> model;  // --model: sets (or replaces) the job's model
};

// `abliterate convert-config config.toml`: Heretic's config as a job file on stdout.
int convert_config_command(const ConvertConfigArgs& args);

struct EvaluateArgs {
  std::string job_path;
  std::optional<std::string> model;    // --model: the model to measure (default: the job's evaluate_model)
  std::optional<std::string> adapter;  // --adapter: a LoRA adapter merged into that model (default: none)
};

// `abliterate evaluate JOB --model OTHER`: KL divergence and refusals of
// another model against the job's model (Heretic's evaluate_model).
int evaluate_command(const EvaluateArgs& args);

struct ChatArgs {
  std::string model_path;        // HF folder or .gguf file; empty with --store (the study's model)
  int64_t max_new_tokens = 512;  // --max-new-tokens: per reply
  std::string system_prompt;     // --system: empty = no system message
  std::string dtype = "float32"; // --dtype: float32, bfloat16 or float16
  std::string adapter;           // --adapter: a PEFT LoRA adapter folder merged at load; empty = none
  std::optional<std::string> store;       // --store: talk to this study's trials (ablated, nothing exported)
  std::optional<int64_t> trial;           // --trial: the trial to start with (default: the original model)
  std::optional<std::string> job;         // --job: the study's job file (default: the store's settings)
  std::optional<std::string> study_name;  // --study: the study (default: the store's only one)
};

struct ExportArgs {
  std::string store_path;                  // the study's store (or --from's)
  std::optional<int64_t> trial;            // --trial: default the front's fewest refusals within --max-kl
  double max_kl = 1.0;                     // --max-kl: the KL budget of the default choice
  std::string out;                         // --out: the model folder to write
  std::optional<std::string> job;          // --job: the study's job file (default: the store's settings)
  std::optional<std::string> study_name;   // --study
  bool force = false;                      // --force: replace an existing --out
  std::string max_shard_size = "5GB";      // --max-shard-size: "5GB", "500MB", or bytes
  std::optional<std::string> from;         // --from: an export's abliterate.json, to redo it
  bool adapter = false;                    // --adapter: a PEFT LoRA adapter instead of full weights
  std::optional<int64_t> adapter_rank;     // --adapter-rank: r of the SVD for row_normalization full (default: the job's full_normalization_lora_rank)
  std::optional<std::string> gguf;         // --gguf: F32, F16, BF16 or Q8_0: a GGUF file instead of an HF folder
  std::optional<std::string> dtype;        // --dtype: float32, bfloat16 or float16 (default: the model's; GGUF bfloat16)
};

// `abliterate export STORE --out DIR`: a trial as an HF model folder with its
// model card (exporter/hf_export.hpp).
int export_command(const ExportArgs& args);

// `abliterate chat MODEL` or `chat --store STORE [--trial N]`: a streaming
// REPL on stdin/stdout; /reset clears the conversation, /trial N switches to
// another trial of the study (/trial none: the original model), /exit or end
// of input (Ctrl-D) quits.
int chat_command(const ChatArgs& args);

struct SubmitArgs {
  std::string path;                            // a job file, or a sweep file (one with a top-level `models:`)
  int64_t n_nodes = 1;                         // --nodes
  std::optional<int64_t> n_gpus_per_node;      // --gpus-per-node: one worker rank per GPU (default 1)
  std::optional<int64_t> n_workers_per_node;   // --workers-per-node: CPU worker ranks, no GPUs asked for
  bool is_overcommitted = false;               // --overcommit: more tasks than the nodes' CPUs
  std::optional<std::string> time_limit;       // --time
  std::optional<std::string> partition;        // --partition
  std::optional<std::string> account;          // --account
  std::optional<std::string> qos;              // --qos
  std::optional<int64_t> array_parallel;       // --array-parallel: a sweep's tasks running at once (default: all)
  bool is_dry_run = false;                     // --dry-run: print the batch script, submit nothing
};

// `abliterate submit JOB|SWEEP`: renders the batch script (slurm/batch_script.hpp)
// and pipes it to sbatch, printing the job id; --dry-run prints the script.
int submit_command(const SubmitArgs& args);

}  // namespace abliterate::cli
