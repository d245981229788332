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
};

// `abliterate run JOB`: under mpirun rank 0 coordinates and the other ranks
// work; without it one in-process worker. MPI is initialized here.
int run_command(const RunArgs& args, int* argc, char*** argv);

struct StatusArgs {
  std::string store_path;
  std::optional<std::string> study_name;  // default: the store's only study
};

// `abliterate status STORE`: the trials table, failures and the Pareto front.
int status_command(const StatusArgs& args);

// `abliterate validate JOB`: loads and checks the job and its prompt sets.
int validate_command(const std::string& job_path);

struct TinyModelArgs {
  std::string folder;
  uint64_t seed = 1234;
};

// `abliterate make-tiny-model DIR`: writes the tiny random Gemma 3 model.
int tiny_model_command(const TinyModelArgs& args);

}  // namespace abliterate::cli
