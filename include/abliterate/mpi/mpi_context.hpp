// Module mpi: the transport: the coordinator <-> worker protocol, MPI ranks, sending and receiving.
// Must not know: models, studies, what a task does (runner).
//
// MPI for the whole process: initialization, communicators (the world, or
// one study's group of ranks in a sweep), the transport of messages, and the
// WorkerPool over a communicator's worker ranks. MPI_Init is called once per
// process by MpiContext; without mpirun Open MPI starts as a singleton and
// the world has one rank.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "abliterate/mpi/messages.hpp"
#include "abliterate/mpi/worker_pool.hpp"

namespace abliterate::mpi {

// Where a worker rank sits among the worker ranks of its node.
struct WorkerPlacement {
  int local_rank = 0;    // among the worker ranks on this node
  int local_workers = 1; // worker ranks on this node (CPU threads are split among them)
};

inline constexpr int kAnySource = -1;

// A group of ranks that talk among themselves, numbered 0..size()-1; rank 0
// coordinates, the others are workers. Construction and split() are
// collective: every rank of the group calls them.
class Communicator {
 public:
  int rank() const { return rank_; }
  int size() const { return static_cast<int>(hosts_.size()); }
  // The host each rank runs on (MPI_Get_processor_name), by rank.
  const std::string& host(int rank) const { return hosts_.at(static_cast<size_t>(rank)); }

  // Sends one message to `dest` (MPI_Send: returns once the buffer is handed
  // over). Throws IoError, or InputError past MPI's 2 GiB message limit.
  void send(int dest, const Message& message) const;

  // The next message from `source` (kAnySource: any rank) as (rank,
  // message), waiting at most `timeout` (nullopt: for ever); nullopt when
  // none came. Polls (Note [Polling instead of blocking receives]). Throws
  // FormatError naming the rank on a malformed message.
  std::optional<std::pair<int, Message>> receive(int source,
                                                 std::optional<std::chrono::milliseconds> timeout) const;

  // The ranks that pass the same `color` form a new group, ordered by their
  // rank here.
  Communicator split(int color) const;

  // Where this rank sits among the worker ranks (non-coordinators) of its
  // node, over every rank of this group; `is_worker` says what this rank is.
  WorkerPlacement node_placement(bool is_worker) const;

 private:
  friend class MpiContext;
  explicit Communicator(int fortran_handle);  // MPI_Comm_c2f: keeps mpi.h out of this header

  int handle_ = 0;
  int rank_ = 0;
  std::vector<std::string> hosts_;
};

class MpiContext {
 public:
  MpiContext(int* argc, char*** argv);
  ~MpiContext();  // MPI_Finalize
  MpiContext(const MpiContext&) = delete;
  MpiContext& operator=(const MpiContext&) = delete;

  const Communicator& world() const { return *world_; }
  int rank() const { return world_->rank(); }
  int world_size() const { return world_->size(); }
  // Placement of this rank among the worker ranks of its node (rank 0 coordinates).
  WorkerPlacement placement() const { return placement_; }

  // Ends every rank with `code` (after an error on one of them, or to stop a
  // worker that no longer answers: Open MPI cannot drop a single rank).
  [[noreturn]] void abort(int code) const;

 private:
  std::unique_ptr<Communicator> world_;
  WorkerPlacement placement_;
};

// The coordinator's pool over ranks 1..size-1 of `comm`; only its rank 0 may
// create it. `comm` must outlive the pool.
std::unique_ptr<WorkerPool> make_mpi_worker_pool(const Communicator& comm);

}  // namespace abliterate::mpi
