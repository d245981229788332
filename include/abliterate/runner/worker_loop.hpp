// The two ways a Worker is reached: as an MPI worker rank's main loop, or in
// this process (`abliterate run` without mpirun).
#pragma once

#include <memory>

#include "abliterate/mpi/mpi_context.hpp"
#include "abliterate/mpi/worker_pool.hpp"

namespace abliterate::runner {

// A worker rank's life under MPI (`run` and `sweep` alike): stop signals are
// ignored (rank 0 decides what a signal to the whole step means: issue 12),
// then receive from rank 0 of `comm`, handle, reply, until `stop`. A
// transport failure ends every rank (Open MPI without ULFM would anyway);
// task errors are replies, not failures of the loop.
void run_worker_rank(const mpi::MpiContext& mpi_context, mpi::WorkerPlacement placement,
                     const mpi::Communicator& comm);

// One worker in this process (world size 1).
std::unique_ptr<mpi::WorkerPool> make_local_worker_pool();

}  // namespace abliterate::runner
