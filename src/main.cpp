// abliterate: a distributed study runner for directional ablation of refusal
// behaviour. Parses the command line and dispatches to a subcommand; every
// abliterate::Error ends here as one line on stderr and exit code 1.
#include <cstdio>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "abliterate/cli/commands.hpp"
#include "abliterate/common/error.hpp"

int main(int argc, char** argv) {
  using namespace abliterate;
  // Progress lines must reach a Slurm output file or a pipe as they are
  // printed, not when a full buffer is flushed at exit.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  CLI::App app{"abliterate: find and ablate refusal directions with a multi-objective TPE study, on MPI"};
  app.require_subcommand(1);

  cli::RunArgs run_args;
  CLI::App* run = app.add_subcommand("run", "Run or resume the study of a job file (under mpirun: rank 0 coordinates)");
  run->add_option("job", run_args.job_path, "Job file (YAML, see schemas/job.schema.json)")->required();
  run->add_option("--n-trials", run_args.n_trials, "Complete trials to reach (raises a finished study's budget)");
  run->add_option("--store", run_args.store, "SQLite store, overriding the job's `store`");
  run->add_option("--cache", run_args.cache, "HDF5 cache, overriding the job's `cache`");
  run->add_flag("--force", run_args.force,
                "Resume a study even when the job's model, prompts or search space differ from its stored settings");

  cli::StatusArgs status_args;
  CLI::App* status = app.add_subcommand("status", "Print a store's trials, failures and Pareto front");
  status->add_option("store", status_args.store_path, "Store file (SQLite)")->required();
  status->add_option("--study", status_args.study_name, "Study name (default: the only one)");

  cli::ReportArgs report_args;
  CLI::App* report =
      app.add_subcommand("report", "Write a study's Pareto plot, history, parameter plots and trials as one HTML file");
  report->add_option("store", report_args.store_path, "Store file (SQLite); a running study's store is fine")
      ->required();
  report->add_option("--out", report_args.out_path, "HTML file to write (self-contained, works offline)")->required();
  report->add_option("--csv", report_args.csv_path, "Also write the trials table as CSV, one row per trial");
  report->add_option("--json", report_args.json_path, "Also write the trials table as JSON, an array of objects");
  report->add_option("--study", report_args.study_name, "Study name (default: the only one)");

  std::string validate_path;
  CLI::App* validate = app.add_subcommand("validate", "Check a job file and its prompt sets");
  validate->add_option("job", validate_path, "Job file")->required();

  cli::TinyModelArgs tiny_args;
  CLI::App* tiny = app.add_subcommand("make-tiny-model", "Write a tiny random model folder of one family (for tests)");
  tiny->add_option("folder", tiny_args.folder, "Output folder")->required();
  tiny->add_option("--seed", tiny_args.seed, "Random seed");
  tiny->add_option("--family", tiny_args.family, "Decoder family")
      ->check(CLI::IsMember({"gemma3", "llama", "mistral", "qwen2", "qwen3"}));

  cli::ConvertConfigArgs convert_args;
  CLI::App* convert = app.add_subcommand("convert-config", "Translate a Heretic config.toml into a job file (stdout)");
  convert->add_option("config", convert_args.toml_path, "Heretic's config.toml")->required();
  convert->add_option("--model", convert_args.model, "Model folder or .gguf file (Heretic takes it from its command line)");

  cli::EvaluateArgs evaluate_args;
  CLI::App* evaluate =
      app.add_subcommand("evaluate", "KL divergence and refusals of another model against the job's model");
  evaluate->add_option("job", evaluate_args.job_path, "Job file")->required();
  evaluate->add_option("--model", evaluate_args.model,
                       "The model to measure (default: the job's evaluate_model; with --adapter alone, the "
                       "job's model)");
  evaluate->add_option("--adapter", evaluate_args.adapter,
                       "A PEFT LoRA adapter folder merged into the measured model (e.g. a fine-tune of the "
                       "job's model)");

  cli::ChatArgs chat_args;
  CLI::App* chat = app.add_subcommand("chat", "Talk to a model: a streaming REPL (greedy decoding)");
  chat->add_option("model", chat_args.model_path, "Model folder (HF) or .gguf file (not with --store)");
  chat->add_option("--max-new-tokens", chat_args.max_new_tokens, "Most tokens per reply")->capture_default_str();
  chat->add_option("--system", chat_args.system_prompt, "System prompt (default: none)");
  chat->add_option("--dtype", chat_args.dtype, "float32, bfloat16 or float16")->capture_default_str();
  chat->add_option("--adapter", chat_args.adapter, "A PEFT LoRA adapter folder merged into the model at load");
  chat->add_option("--store", chat_args.store,
                   "Talk to the trials of this study's store (its model, ablated in place; nothing is exported)");
  chat->add_option("--trial", chat_args.trial, "With --store: the trial to start with (default: the original model)");
  chat->add_option("--job", chat_args.job,
                   "With --store: the study's job file (default: the store's settings, paths from its folder)");
  chat->add_option("--study", chat_args.study_name, "With --store: the study (default: the store's only one)");

  cli::ExportArgs export_args;
  CLI::App* export_app = app.add_subcommand("export", "Write a trial as an HF model folder with its model card");
  export_app->add_option("store", export_args.store_path, "The study's store (SQLite)");
  export_app->add_option("--out", export_args.out, "The model folder to write (refused when it exists)");
  export_app->add_option("--trial", export_args.trial,
                         "The trial (default: the Pareto front's fewest refusals within --max-kl)");
  export_app->add_option("--max-kl", export_args.max_kl, "KL budget of the default choice")->capture_default_str();
  export_app->add_option("--job", export_args.job, "The study's job file (default: the store's settings)");
  export_app->add_option("--study", export_args.study_name, "The study (default: the store's only one)");
  export_app->add_flag("--force", export_args.force, "Replace an existing --out once the new folder is complete");
  export_app->add_option("--max-shard-size", export_args.max_shard_size, "Largest weight file: 5GB, 500MB or bytes")
      ->capture_default_str();
  export_app->add_option("--from", export_args.from, "Redo the export an abliterate.json records (give --out)");
  export_app->add_flag("--adapter", export_args.adapter,
                       "Write a PEFT LoRA adapter for the original model instead of full weights");
  export_app->add_option("--adapter-rank", export_args.adapter_rank,
                         "With --adapter and row_normalization full: the rank of the SVD approximation")
      ->capture_default_str();

  CLI11_PARSE(app, argc, argv);
  try {
    if (run->parsed()) return cli::run_command(run_args, &argc, &argv);
    if (status->parsed()) return cli::status_command(status_args);
    if (report->parsed()) return cli::report_command(report_args);
    if (validate->parsed()) return cli::validate_command(validate_path);
    if (tiny->parsed()) return cli::tiny_model_command(tiny_args);
    if (convert->parsed()) return cli::convert_config_command(convert_args);
    if (evaluate->parsed()) return cli::evaluate_command(evaluate_args);
    if (chat->parsed()) return cli::chat_command(chat_args);
    if (export_app->parsed()) return cli::export_command(export_args);
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
