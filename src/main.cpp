// abliterate: a distributed study runner for directional ablation of refusal
// behaviour. Parses the command line and dispatches to a subcommand; every
// abliterate::Error ends here as one line on stderr and exit code 1.
#include <cstdio>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "abliterate/cli/commands.hpp"
#include "abliterate/common/error.hpp"
#include "abliterate/common/heap_reuse.hpp"

namespace {

using namespace abliterate;

// One function per subcommand: its options, bound to the fields of its Args.
CLI::App* add_run(CLI::App& app, cli::RunArgs& args) {
  CLI::App* sub = app.add_subcommand("run", "Run or resume the study of a job file (under mpirun: rank 0 coordinates)");
  sub->add_option("job", args.job_path, "Job file (YAML, see schemas/job.schema.json)")->required();
  sub->add_option("--n-trials", args.n_trials, "Complete trials to reach (raises a finished study's budget)");
  sub->add_option("--store", args.store, "SQLite store, overriding the job's `store`");
  sub->add_option("--cache", args.cache, "HDF5 cache, overriding the job's `cache`");
  sub->add_flag("--force", args.force,
                "Resume a study even when the job's model, prompts or search space differ from its stored settings");
  return sub;
}

CLI::App* add_sweep(CLI::App& app, cli::SweepArgs& args) {
  CLI::App* sub = app.add_subcommand(
      "sweep", "Run or resume one study per model (x settings) of a sweep file; under mpirun, side by side");
  sub->add_option("sweep", args.sweep_path, "Sweep file (YAML: base, models, settings, out_dir)")->required();
  sub->add_option("--entry", args.entry, "Run this entry only, numbered from 0 (a Slurm job array task)");
  return sub;
}

CLI::App* add_status(CLI::App& app, cli::StatusArgs& args) {
  CLI::App* sub = app.add_subcommand(
      "status", "Print a store's trials, failures and Pareto front, or one row per study of a folder (a sweep)");
  sub->add_option("store", args.store_path, "Store file (SQLite), or a folder of studies (a sweep's out_dir)")
      ->required();
  sub->add_option("--study", args.study_name, "Study name (default: the only one)");
  return sub;
}

CLI::App* add_report(CLI::App& app, cli::ReportArgs& args) {
  CLI::App* sub =
      app.add_subcommand("report", "Write a study's Pareto plot, history, parameter plots and trials as one HTML file");
  sub->add_option("store", args.store_path, "Store file (SQLite); a running study's store is fine")->required();
  sub->add_option("--out", args.out_path, "HTML file to write (self-contained, works offline)")->required();
  sub->add_option("--csv", args.csv_path, "Also write the trials table as CSV, one row per trial");
  sub->add_option("--json", args.json_path, "Also write the trials table as JSON, an array of objects");
  sub->add_option("--study", args.study_name, "Study name (default: the only one)");
  return sub;
}

CLI::App* add_validate(CLI::App& app, std::string& job_path) {
  CLI::App* sub = app.add_subcommand("validate", "Check a job file and its prompt sets");
  sub->add_option("job", job_path, "Job file")->required();
  return sub;
}

CLI::App* add_tiny_model(CLI::App& app, cli::TinyModelArgs& args) {
  CLI::App* sub = app.add_subcommand("make-tiny-model", "Write a tiny random model folder of one family (for tests)");
  sub->add_option("folder", args.folder, "Output folder")->required();
  sub->add_option("--seed", args.seed, "Random seed");
  sub->add_option("--family", args.family, "Decoder family")
      ->check(CLI::IsMember({"gemma3", "llama", "mistral", "qwen2", "qwen3"}));
  return sub;
}

CLI::App* add_convert_config(CLI::App& app, cli::ConvertConfigArgs& args) {
  CLI::App* sub = app.add_subcommand("convert-config", "Translate a Heretic config.toml into a job file (stdout)");
  sub->add_option("config", args.toml_path, "Heretic's config.toml")->required();
  sub->add_option("--model", args.model, "Model folder or .gguf file (Heretic takes it from its command line)");
  return sub;
}

CLI::App* add_evaluate(CLI::App& app, cli::EvaluateArgs& args) {
  CLI::App* sub = app.add_subcommand("evaluate", "KL divergence and refusals of another model against the job's model");
  sub->add_option("job", args.job_path, "Job file")->required();
  sub->add_option("--model", args.model,
                  "The model to measure (default: the job's evaluate_model; with --adapter alone, the "
                  "job's model)");
  sub->add_option("--adapter", args.adapter,
                  "A PEFT LoRA adapter folder merged into the measured model (e.g. a fine-tune of the "
                  "job's model)");
  return sub;
}

CLI::App* add_chat(CLI::App& app, cli::ChatArgs& args) {
  CLI::App* sub = app.add_subcommand("chat", "Talk to a model: a streaming REPL (greedy decoding)");
  sub->add_option("model", args.model_path, "Model folder (HF) or .gguf file (not with --store)");
  sub->add_option("--max-new-tokens", args.max_new_tokens, "Most tokens per reply")->capture_default_str();
  sub->add_option("--system", args.system_prompt, "System prompt (default: none)");
  sub->add_option("--dtype", args.dtype, "float32, bfloat16 or float16")->capture_default_str();
  sub->add_option("--adapter", args.adapter, "A PEFT LoRA adapter folder merged into the model at load");
  sub->add_option("--store", args.store,
                  "Talk to the trials of this study's store (its model, ablated in place; nothing is exported)");
  sub->add_option("--trial", args.trial, "With --store: the trial to start with (default: the original model)");
  sub->add_option("--job", args.job,
                  "With --store: the study's job file (default: the store's settings, paths from its folder)");
  sub->add_option("--study", args.study_name, "With --store: the study (default: the store's only one)");
  return sub;
}

CLI::App* add_export(CLI::App& app, cli::ExportArgs& args) {
  CLI::App* sub = app.add_subcommand(
      "export", "Write a trial as an HF model folder, a LoRA adapter or a GGUF file, with its model card");
  sub->add_option("store", args.store_path, "The study's store (SQLite)");
  sub->add_option("--out", args.out, "The model folder to write (refused when it exists)");
  sub->add_option("--trial", args.trial, "The trial (default: the Pareto front's fewest refusals within --max-kl)");
  sub->add_option("--max-kl", args.max_kl, "KL budget of the default choice")->capture_default_str();
  sub->add_option("--job", args.job, "The study's job file (default: the store's settings)");
  sub->add_option("--study", args.study_name, "The study (default: the store's only one)");
  sub->add_flag("--force", args.force, "Replace an existing --out once the new folder is complete");
  sub->add_option("--max-shard-size", args.max_shard_size, "Largest weight file: 5GB, 500MB or bytes")
      ->capture_default_str();
  sub->add_option("--from", args.from, "Redo the export an abliterate.json records (give --out)");
  sub->add_option("--dtype", args.dtype,
                  "float32, bfloat16 or float16 (default: an HF model's own; a GGUF model is dequantized to bfloat16)");
  sub->add_option("--gguf", args.gguf,
                  "F32, F16, BF16 or Q8_0: write the model as one GGUF file of that type (GGUF models only)");
  sub->add_flag("--adapter", args.adapter, "Write a PEFT LoRA adapter for the original model instead of full weights");
  sub->add_option("--adapter-rank", args.adapter_rank,
                  "With --adapter and row_normalization full: the rank of the SVD approximation (default: the "
                  "job's full_normalization_lora_rank, 3)");
  return sub;
}

CLI::App* add_submit(CLI::App& app, cli::SubmitArgs& args) {
  CLI::App* sub = app.add_subcommand(
      "submit", "Submit a study (or a sweep, as a job array) to Slurm: renders a batch script and pipes it to sbatch");
  sub->footer(
      "Ranks: rank 0 coordinates, every other rank is a worker; N nodes x G workers run N*G+1 tasks under\n"
      "`srun --mpi=pmix`. GPU workers (--gpus-per-node G, the default with G=1) hold one GPU each; CPU workers\n"
      "(--workers-per-node W, the default with W=1 when the job's device is cpu) ask for no GPUs.\n"
      "Slurm sends USR1 the job's grace_period + 30 s before the time limit: the run finishes or records the\n"
      "trials in flight, exits 75, and the job requeues itself and resumes the study from its store.\n"
      "The job runs in the current folder (relative store and cache paths resolve here; logs: slurm-<id>.out).\n"
      "ABLITERATE=/path overrides the program the tasks run (default: this one).");
  sub->add_option("file", args.path, "Job file, or sweep file (a top-level `models:` list: one array task per entry)")
      ->required();
  sub->add_option("--nodes", args.n_nodes, "Nodes per study")->capture_default_str();
  auto* gpus =
      sub->add_option("--gpus-per-node", args.n_gpus_per_node, "GPUs per node, one worker rank each (default 1)");
  auto* workers = sub->add_option("--workers-per-node", args.n_workers_per_node,
                                  "CPU worker ranks per node, no GPUs asked for (for device: cpu)");
  gpus->excludes(workers);
  sub->add_flag("--overcommit", args.is_overcommitted,
                "Run more tasks than the nodes have CPUs (sbatch and srun --overcommit; small CPU nodes)");
  sub->add_option("--time", args.time_limit, "Time limit, Slurm's syntax (e.g. 12:00:00, 2-00:00:00)");
  sub->add_option("--partition", args.partition, "Slurm partition");
  sub->add_option("--account", args.account, "Slurm account");
  sub->add_option("--qos", args.qos, "Slurm QOS");
  sub->add_option("--array-parallel", args.array_parallel, "A sweep: at most this many entries at once (default: all)");
  sub->add_flag("--dry-run", args.is_dry_run, "Print the batch script instead of submitting it");
  return sub;
}

}  // namespace

int main(int argc, char** argv) {
  // Progress lines must reach a Slurm output file or a pipe as they are
  // printed, not when a full buffer is flushed at exit.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  keep_freed_blocks_mapped();  // before the first large allocation
  CLI::App app{"abliterate: find and ablate refusal directions with a multi-objective TPE study, on MPI"};
  app.require_subcommand(1);
  cli::RunArgs run_args;
  cli::SweepArgs sweep_args;
  cli::StatusArgs status_args;
  cli::ReportArgs report_args;
  std::string validate_path;
  cli::TinyModelArgs tiny_args;
  cli::ConvertConfigArgs convert_args;
  cli::EvaluateArgs evaluate_args;
  cli::ChatArgs chat_args;
  cli::ExportArgs export_args;
  cli::SubmitArgs submit_args;
  const CLI::App* run = add_run(app, run_args);
  const CLI::App* sweep = add_sweep(app, sweep_args);
  const CLI::App* status = add_status(app, status_args);
  const CLI::App* report = add_report(app, report_args);
  const CLI::App* validate = add_validate(app, validate_path);
  const CLI::App* tiny = add_tiny_model(app, tiny_args);
  const CLI::App* convert = add_convert_config(app, convert_args);
  const CLI::App* evaluate = add_evaluate(app, evaluate_args);
  const CLI::App* chat = add_chat(app, chat_args);
  const CLI::App* export_app = add_export(app, export_args);
  const CLI::App* submit = add_submit(app, submit_args);

  CLI11_PARSE(app, argc, argv);
  try {
    if (run->parsed()) return cli::run_command(run_args, &argc, &argv);
    if (sweep->parsed()) return cli::sweep_command(sweep_args, &argc, &argv);
    if (status->parsed()) return cli::status_command(status_args);
    if (report->parsed()) return cli::report_command(report_args);
    if (validate->parsed()) return cli::validate_command(validate_path);
    if (tiny->parsed()) return cli::tiny_model_command(tiny_args);
    if (convert->parsed()) return cli::convert_config_command(convert_args);
    if (evaluate->parsed()) return cli::evaluate_command(evaluate_args);
    if (chat->parsed()) return cli::chat_command(chat_args);
    if (export_app->parsed()) return cli::export_command(export_args);
    if (submit->parsed()) return cli::submit_command(submit_args);
  } catch (const Error& e) {
    fmt::print(stderr, "abliterate: {}\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    // Not one of ours (a library threw): still one line and a non-zero exit.
    fmt::print(stderr, "abliterate: unexpected error: {}\n", e.what());
    return 1;
  }
  return 0;
}
