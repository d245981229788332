#include "abliterate/runner/worker_loop.hpp"

#include <deque>
#include <optional>

#include <fmt/format.h>
#include <unistd.h>

#include "abliterate/common/error.hpp"
#include "abliterate/runner/shutdown.hpp"
#include "abliterate/runner/worker.hpp"

namespace abliterate::runner {
namespace {

// The worker runs inside send(): tasks are handled synchronously and their
// replies queued for receive_any().
class LocalWorkerPool : public mpi::WorkerPool {
 public:
  LocalWorkerPool() : worker_(mpi::WorkerPlacement{}) {}
  int n_workers() const override { return 1; }
  void send(int worker_idx, const mpi::Message& message) override {
    ABL_ASSERT(worker_idx == 0, "local pool has one worker, got index {}", worker_idx);
    if (auto reply = worker_.handle(message)) replies_.push_back(std::move(*reply));
  }
  std::pair<int, mpi::Message> receive_any() override {
    ABL_ASSERT(!replies_.empty(), "receive_any with no task in flight");
    mpi::Message reply = std::move(replies_.front());
    replies_.pop_front();
    return {0, std::move(reply)};
  }
  std::string worker_name(int) const override { return "the in-process worker"; }
  std::string worker_host(int) const override {
    char name[256] = {};
    return gethostname(name, sizeof(name) - 1) == 0 ? std::string(name) : std::string("this host");
  }

 private:
  Worker worker_;
  std::deque<mpi::Message> replies_;
};

}  // namespace

void run_worker_rank(const mpi::MpiContext& mpi_context, mpi::WorkerPlacement placement,
                     const mpi::Communicator& comm) {
  ignore_stop_signals();
  try {
    Worker worker(placement);
    while (true) {
      auto [source, task] = *comm.receive(0, std::nullopt);
      std::optional<mpi::Message> reply = worker.handle(task);
      if (!reply) return;
      comm.send(0, *reply);
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "abliterate: rank {}: {}\n", mpi_context.rank(), e.what());
    mpi_context.abort(1);
  }
}

std::unique_ptr<mpi::WorkerPool> make_local_worker_pool() { return std::make_unique<LocalWorkerPool>(); }

}  // namespace abliterate::runner
