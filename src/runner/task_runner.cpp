#include "abliterate/runner/task_runner.hpp"

#include <deque>

#include "abliterate/common/error.hpp"
#include "abliterate/runner/protocol.hpp"

namespace abliterate::runner {
namespace {

void check_reply(const mpi::WorkerPool& pool, int worker_idx, const mpi::Message& reply, mpi::MessageType expected) {
  if (reply.type == mpi::MessageType::failure) {
    rethrow_failure(from_message<Failure>(reply), fmt::format("{} failed", pool.worker_name(worker_idx)));
  }
  ABL_CHECK(reply.type == expected, FormatError, "{} replied {} where {} was expected", pool.worker_name(worker_idx),
            to_string(reply.type), to_string(expected));
}

}  // namespace

std::vector<mpi::Message> run_tasks(mpi::WorkerPool& pool, const std::vector<mpi::Message>& tasks, mpi::MessageType expected) {
  std::vector<mpi::Message> replies(tasks.size());
  std::vector<size_t> task_of_worker(static_cast<size_t>(pool.n_workers()));
  size_t next = 0;
  size_t in_flight = 0;
  for (int worker_idx = 0; worker_idx < pool.n_workers() && next < tasks.size(); ++worker_idx) {
    task_of_worker[static_cast<size_t>(worker_idx)] = next;
    pool.send(worker_idx, tasks[next++]);
    ++in_flight;
  }
  while (in_flight > 0) {
    auto [worker_idx, reply] = pool.receive_any();
    --in_flight;
    check_reply(pool, worker_idx, reply, expected);
    replies[task_of_worker[static_cast<size_t>(worker_idx)]] = std::move(reply);
    if (next < tasks.size()) {
      task_of_worker[static_cast<size_t>(worker_idx)] = next;
      pool.send(worker_idx, tasks[next++]);
      ++in_flight;
    }
  }
  return replies;
}

std::vector<mpi::Message> broadcast(mpi::WorkerPool& pool, const mpi::Message& message, mpi::MessageType expected) {
  std::vector<mpi::Message> replies(static_cast<size_t>(pool.n_workers()));
  for (int worker_idx = 0; worker_idx < pool.n_workers(); ++worker_idx) pool.send(worker_idx, message);
  for (int received = 0; received < pool.n_workers(); ++received) {
    auto [worker_idx, reply] = pool.receive_any();
    check_reply(pool, worker_idx, reply, expected);
    replies[static_cast<size_t>(worker_idx)] = std::move(reply);
  }
  return replies;
}

std::vector<std::pair<size_t, size_t>> split_evenly(size_t n, size_t n_parts) {
  std::vector<std::pair<size_t, size_t>> ranges;
  if (n == 0 || n_parts == 0) return ranges;
  n_parts = std::min(n, n_parts);
  size_t begin = 0;
  for (size_t part = 0; part < n_parts; ++part) {
    const size_t size = n / n_parts + (part < n % n_parts ? 1 : 0);
    ranges.emplace_back(begin, begin + size);
    begin += size;
  }
  return ranges;
}

}  // namespace abliterate::runner
