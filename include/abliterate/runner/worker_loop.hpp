// The two ways a Worker is reached: as an MPI worker rank's main loop, or in
// this process (`abliterate run` without mpirun).
#pragma once

#include <memory>

#include "abliterate/mpi/mpi_context.hpp"
#include "abliterate/mpi/worker_pool.hpp"

namespace abliterate::runner {

// The worker rank's main loop under MPI: receive from rank 0 of `comm`,
// handle, reply, until `stop`. Returns normally after stop.
void run_worker_loop(mpi::WorkerPlacement placement, const mpi::Communicator& comm);

// One worker in this process (world size 1).
std::unique_ptr<mpi::WorkerPool> make_local_worker_pool();

}  // namespace abliterate::runner
