#include <fmt/format.h>

#include "abliterate/cli/commands.hpp"
#include "abliterate/common/error.hpp"
#include "abliterate/config/job_loader.hpp"
#include "abliterate/mpi/mpi_context.hpp"
#include "abliterate/runner/coordinator.hpp"
#include "abliterate/runner/shutdown.hpp"
#include "abliterate/runner/worker_loop.hpp"

namespace abliterate::cli {

int run_command(const RunArgs& args, int* argc, char*** argv) {
  mpi::MpiContext mpi_context(argc, argv);
  if (mpi_context.rank() != 0) {
    runner::run_worker_rank(mpi_context, mpi_context.placement(), mpi_context.world());
    return 0;
  }

  runner::install_shutdown_handlers();
  std::unique_ptr<mpi::WorkerPool> pool = mpi_context.world_size() > 1 ? mpi::make_mpi_worker_pool(mpi_context.world())
                                                                       : runner::make_local_worker_pool();
  runner::RunOutcome outcome;
  {
    mpi::StopWorkersOnExit stop_workers(*pool);
    config::Job job = config::load_job(args.job_path);
    if (args.store) job.store = *args.store;
    if (args.cache) job.cache = *args.cache;
    if (args.n_trials) {
      ABL_CHECK(*args.n_trials >= 1, InputError, "--n-trials: expected an integer >= 1, got {}", *args.n_trials);
    }
    fmt::print("abliterate: study \"{}\" of {} ({} worker{})\n", job.study_name, job.model, pool->n_workers(),
               pool->n_workers() == 1 ? "" : "s");
    outcome = runner::run_study(job, runner::RunOptions{.n_trials = args.n_trials, .force = args.force}, *pool);
  }
  // Every finished trial is in the store by now; workers still on a trial
  // the run gave up can only be stopped by ending every rank.
  if (outcome.workers_abandoned && mpi_context.world_size() > 1) mpi_context.abort(runner::exit_code(outcome.end));
  return runner::exit_code(outcome.end);
}

}  // namespace abliterate::cli
