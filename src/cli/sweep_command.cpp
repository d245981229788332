#include <fmt/format.h>

#include "abliterate/cli/commands.hpp"
#include "abliterate/config/sweep.hpp"
#include "abliterate/mpi/mpi_context.hpp"
#include "abliterate/runner/sweep_run.hpp"

namespace abliterate::cli {

int sweep_command(const SweepArgs& args, int* argc, char*** argv) {
  mpi::MpiContext mpi_context(argc, argv);
  // Every rank reads the sweep: each must know the entries to find its group.
  const config::Sweep sweep = config::load_sweep(args.sweep_path);
  if (mpi_context.rank() == 0) {
    fmt::print(stderr, "abliterate: sweep {} with {} entries in {}\n", args.sweep_path, sweep.entries.size(),
               sweep.out_dir.string());
  }
  return runner::run_sweep(sweep, runner::SweepOptions{.entry = args.entry}, mpi_context);
}

}  // namespace abliterate::cli
