// How the coordinator reaches its workers: by MPI (one rank each) or in
// process (`abliterate run` without mpirun). The coordinator loop is written
// against this interface only. Only rank 0 holds a WorkerPool.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>

#include "abliterate/mpi/messages.hpp"

namespace abliterate::mpi {

class WorkerPool {
 public:
  virtual ~WorkerPool() = default;

  // Workers are numbered 0..n_workers()-1.
  virtual int n_workers() const = 0;

  // Sends a task to one worker. Returns once the message is handed over.
  virtual void send(int worker_idx, const Message& message) = 0;

  // Blocks until some worker replies; returns (worker index, reply).
  virtual std::pair<int, Message> receive_any() = 0;

  // The same, waiting at most `timeout`; nullopt when no reply came. A pool
  // whose replies are ready once send() returns (in process) needs no other.
  virtual std::optional<std::pair<int, Message>> receive_any_for(std::chrono::milliseconds timeout) {
    static_cast<void>(timeout);
    return receive_any();
  }

  // A human name for worker_idx in messages ("rank 2").
  virtual std::string worker_name(int worker_idx) const = 0;

  // The host worker_idx runs on, for messages about a worker gone silent.
  virtual std::string worker_host(int worker_idx) const = 0;
};

// Sends `stop` to every worker when it goes out of scope, normally or by an
// error, so that worker ranks exit instead of waiting forever.
class StopWorkersOnExit {
 public:
  explicit StopWorkersOnExit(WorkerPool& pool) : pool_(pool) {}
  ~StopWorkersOnExit();
  StopWorkersOnExit(const StopWorkersOnExit&) = delete;
  StopWorkersOnExit& operator=(const StopWorkersOnExit&) = delete;

 private:
  WorkerPool& pool_;
};

}  // namespace abliterate::mpi
