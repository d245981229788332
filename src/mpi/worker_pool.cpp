#include "abliterate/mpi/worker_pool.hpp"

namespace abliterate::mpi {

StopWorkersOnExit::~StopWorkersOnExit() {
  for (int worker_idx = 0; worker_idx < pool_.n_workers(); ++worker_idx) {
    try {
      pool_.send(worker_idx, Message{MessageType::stop, {}, {}});
    } catch (const std::exception&) {
      // A worker that is already gone cannot be stopped; mpirun reaps it.
    }
  }
}

}  // namespace abliterate::mpi
