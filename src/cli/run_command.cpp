#include <fmt/format.h>

#include "abliterate/cli/commands.hpp"
#include "abliterate/common/error.hpp"
#include "abliterate/config/job_loader.hpp"
#include "abliterate/dist/coordinator.hpp"
#include "abliterate/dist/mpi_context.hpp"
#include "abliterate/dist/shutdown.hpp"

namespace abliterate::cli {

int run_command(const RunArgs& args, int* argc, char*** argv) {
  dist::MpiContext mpi(argc, argv);
  if (mpi.rank() != 0) {
    try {
      dist::run_worker_loop(mpi.placement());
      return 0;
    } catch (const std::exception& e) {
      // Only transport failures reach here (task errors are replies): the
      // whole job goes down, as Open MPI without ULFM does anyway.
      fmt::print(stderr, "abliterate: rank {}: {}\n", mpi.rank(), e.what());
      mpi.abort(1);
    }
  }

  dist::install_shutdown_handlers();
  std::unique_ptr<dist::WorkerPool> pool =
      mpi.world_size() > 1 ? dist::make_mpi_worker_pool(mpi) : dist::make_local_worker_pool();
  dist::StopWorkersOnExit stop_workers(*pool);
  config::Job job = config::load_job(args.job_path);
  if (args.store) job.store = *args.store;
  if (args.cache) job.cache = *args.cache;
  if (args.n_trials) ABL_CHECK(*args.n_trials >= 1, InputError, "--n-trials: expected an integer >= 1, got {}", *args.n_trials);
  fmt::print("abliterate: study \"{}\" of {} ({} worker{})\n", job.study_name, job.model, pool->n_workers(),
             pool->n_workers() == 1 ? "" : "s");
  dist::run_study(job, dist::RunOptions{.n_trials = args.n_trials, .force = args.force}, *pool);
  return 0;
}

}  // namespace abliterate::cli
