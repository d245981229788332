// Hands a list of independent tasks to the workers, one task in flight per
// worker (a second blocking send to a busy worker could deadlock against its
// reply), and collects the replies in task order. Rank 0 only.
#pragma once

#include <vector>

#include "abliterate/mpi/messages.hpp"
#include "abliterate/mpi/worker_pool.hpp"

namespace abliterate::runner {

// Replies in the order of `tasks`. Throws Error naming the worker when a reply
// is a failure or not of type `expected`.
std::vector<mpi::Message> run_tasks(mpi::WorkerPool& pool, const std::vector<mpi::Message>& tasks, mpi::MessageType expected);

// Sends `message` to every worker and returns their replies by worker index.
std::vector<mpi::Message> broadcast(mpi::WorkerPool& pool, const mpi::Message& message, mpi::MessageType expected);

// Splits [0, n) into at most `n_parts` contiguous, nearly equal ranges.
std::vector<std::pair<size_t, size_t>> split_evenly(size_t n, size_t n_parts);

}  // namespace abliterate::runner
