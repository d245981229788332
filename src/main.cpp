// abliterate: a distributed study runner for directional ablation of refusal
// behaviour. Parses the command line and dispatches to a subcommand; every
// abliterate::Error ends here as one line on stderr and exit code 1.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "abliterate/cli/commands.hpp"
#include "abliterate/common/error.hpp"

int main(int argc, char** argv) {
  using namespace abliterate;
  CLI::App app{"abliterate: find and ablate refusal directions with a multi-objective TPE study, on MPI"};
  app.require_subcommand(1);

  cli::RunArgs run_args;
  CLI::App* run = app.add_subcommand("run", "Run or resume the study of a job file (under mpirun: rank 0 coordinates)");
  run->add_option("job", run_args.job_path, "Job file (YAML, see schemas/job.schema.json)")->required();
  run->add_option("--n-trials", run_args.n_trials, "Complete trials to reach (raises a finished study's budget)");
  run->add_option("--store", run_args.store, "SQLite store, overriding the job's `store`");
  run->add_option("--cache", run_args.cache, "HDF5 cache, overriding the job's `cache`");

  cli::StatusArgs status_args;
  CLI::App* status = app.add_subcommand("status", "Print a store's trials, failures and Pareto front");
  status->add_option("store", status_args.store_path, "Store file (SQLite)")->required();
  status->add_option("--study", status_args.study_name, "Study name (default: the only one)");

  std::string validate_path;
  CLI::App* validate = app.add_subcommand("validate", "Check a job file and its prompt sets");
  validate->add_option("job", validate_path, "Job file")->required();

  cli::TinyModelArgs tiny_args;
  CLI::App* tiny = app.add_subcommand("make-tiny-model", "Write a tiny random Gemma 3 model folder (for tests)");
  tiny->add_option("folder", tiny_args.folder, "Output folder")->required();
  tiny->add_option("--seed", tiny_args.seed, "Random seed");

  CLI11_PARSE(app, argc, argv);
  try {
    if (run->parsed()) return cli::run_command(run_args, &argc, &argv);
    if (status->parsed()) return cli::status_command(status_args);
    if (validate->parsed()) return cli::validate_command(validate_path);
    if (tiny->parsed()) return cli::tiny_model_command(tiny_args);
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
