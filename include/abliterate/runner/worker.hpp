// A worker: turns the coordinator's messages into calls on its Replica and
// the results into replies. An error becomes a Failure reply (naming the
// trial when a trial failed) and the worker goes on.
#pragma once

#include <optional>

#include "abliterate/mpi/messages.hpp"
#include "abliterate/runner/replica.hpp"

namespace abliterate::runner {

class Worker {
 public:
  explicit Worker(mpi::WorkerPlacement placement) : replica_(placement) {}

  // The reply to one task, or nullopt for `stop`.
  std::optional<mpi::Message> handle(const mpi::Message& task);

 private:
  mpi::Message dispatch(const mpi::Message& task);

  Replica replica_;
};

}  // namespace abliterate::runner
