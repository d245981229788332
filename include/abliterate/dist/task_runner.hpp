// Hands a list of independent tasks to the workers, one task in flight per
// worker (a second blocking send to a busy worker could deadlock against its
// reply), and collects the replies in task order. Rank 0 only.
#pragma once

#include <vector>

#include "abliterate/dist/messages.hpp"
#include "abliterate/dist/worker_pool.hpp"

namespace abliterate::dist {

// Replies in the order of `tasks`. Throws Error naming the worker when a reply
// is a failure or not of type `expected`.
std::vector<Message> run_tasks(WorkerPool& pool, const std::vector<Message>& tasks, MessageType expected);

// Sends `message` to every worker and returns their replies by worker index.
std::vector<Message> broadcast(WorkerPool& pool, const Message& message, MessageType expected);

// Splits [0, n) into at most `n_parts` contiguous, nearly equal ranges.
std::vector<std::pair<size_t, size_t>> split_evenly(size_t n, size_t n_parts);

}  // namespace abliterate::dist
