// MPI for the whole process: initialization, ranks, and the two WorkerPool
// implementations. MPI_Init is called once per process by MpiContext; without
// mpirun Open MPI starts as a singleton and the world has one rank.
#pragma once

#include <memory>

#include "abliterate/dist/worker.hpp"
#include "abliterate/dist/worker_pool.hpp"

namespace abliterate::dist {

class MpiContext {
 public:
  MpiContext(int* argc, char*** argv);
  ~MpiContext();  // MPI_Finalize
  MpiContext(const MpiContext&) = delete;
  MpiContext& operator=(const MpiContext&) = delete;

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  // Placement of this rank among the worker ranks of its node.
  WorkerPlacement placement() const { return placement_; }

  // Ends every rank with `code` (after an error on one of them).
  [[noreturn]] void abort(int code) const;

 private:
  int rank_ = 0;
  int world_size_ = 1;
  WorkerPlacement placement_;
};

// Rank 0's pool over ranks 1..N-1. Only rank 0 may create it.
std::unique_ptr<WorkerPool> make_mpi_worker_pool(const MpiContext& mpi);

// One worker in this process (world size 1).
std::unique_ptr<WorkerPool> make_local_worker_pool();

}  // namespace abliterate::dist
