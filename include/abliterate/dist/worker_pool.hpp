// How the coordinator reaches its workers: by MPI (one rank each) or in
// process (`abliterate run` without mpirun). The coordinator loop is written
// against this interface only. Only rank 0 holds a WorkerPool.
#pragma once

#include <string>
#include <utility>

#include "abliterate/dist/messages.hpp"

namespace abliterate::dist {

class WorkerPool {
 public:
  virtual ~WorkerPool() = default;

  // Workers are numbered 0..n_workers()-1.
  virtual int n_workers() const = 0;

  // Sends a task to one worker. Returns once the message is handed over.
  virtual void send(int worker_idx, const Message& message) = 0;

  // Blocks until some worker replies; returns (worker index, reply).
  virtual std::pair<int, Message> receive_any() = 0;

  // A human name for worker_idx in messages ("rank 2").
  virtual std::string worker_name(int worker_idx) const = 0;
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

}  // namespace abliterate::dist
