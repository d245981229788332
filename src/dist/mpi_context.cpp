#include "abliterate/dist/mpi_context.hpp"

#include <chrono>
#include <deque>
#include <thread>

#include <mpi.h>

#include "abliterate/common/error.hpp"

namespace abliterate::dist {
namespace {

constexpr int kTagMessage = 1;

// Note [Polling instead of blocking receives]
// Open MPI's blocking receive spins a core at 100%. Workers wait while the
// coordinator prepares and the coordinator waits through whole trials, and on
// a CPU run those spinning ranks would steal the cores the model needs. So
// both sides poll with MPI_Iprobe and sleep a millisecond between polls.
MPI_Status wait_for_message(int source) {
  MPI_Status status;
  int flag = 0;
  while (true) {
    MPI_Iprobe(source, kTagMessage, MPI_COMM_WORLD, &flag, &status);
    if (flag) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void check_mpi(int rc, const char* what, int peer) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(rc, text, &length);
  throw IoError(fmt::format("MPI {} with rank {} failed: {}", what, peer, std::string(text, length)));
}

void send_bytes(int dest, const Message& message) {
  const std::vector<uint8_t> bytes = encode_message(message);
  ABL_CHECK(bytes.size() < static_cast<size_t>(INT32_MAX), InputError,
            "message {} to rank {} is {} bytes, over MPI's 2 GiB limit; lower the number of evaluation prompts",
            to_string(message.type), dest, bytes.size());
  check_mpi(MPI_Send(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE, dest, kTagMessage, MPI_COMM_WORLD),
            "send", dest);
}

std::pair<int, Message> receive_bytes(int source) {
  MPI_Status status = wait_for_message(source);
  int count = 0;
  MPI_Get_count(&status, MPI_BYTE, &count);
  std::vector<uint8_t> bytes(static_cast<size_t>(count));
  check_mpi(MPI_Recv(bytes.data(), count, MPI_BYTE, status.MPI_SOURCE, kTagMessage, MPI_COMM_WORLD,
                     MPI_STATUS_IGNORE),
            "receive", status.MPI_SOURCE);
  try {
    return {status.MPI_SOURCE, decode_message(bytes.data(), bytes.size())};
  } catch (const FormatError& e) {
    throw FormatError(fmt::format("from rank {}: {}", status.MPI_SOURCE, e.what()));
  }
}

class MpiWorkerPool : public WorkerPool {
 public:
  explicit MpiWorkerPool(int world_size) : n_workers_(world_size - 1) {}
  int n_workers() const override { return n_workers_; }
  void send(int worker_idx, const Message& message) override { send_bytes(worker_idx + 1, message); }
  std::pair<int, Message> receive_any() override {
    auto [rank, message] = receive_bytes(MPI_ANY_SOURCE);
    return {rank - 1, std::move(message)};
  }
  std::string worker_name(int worker_idx) const override { return fmt::format("rank {}", worker_idx + 1); }

 private:
  int n_workers_;
};

// The worker runs inside send(): tasks are handled synchronously and their
// replies queued for receive_any().
class LocalWorkerPool : public WorkerPool {
 public:
  LocalWorkerPool() : worker_(WorkerPlacement{}) {}
  int n_workers() const override { return 1; }
  void send(int worker_idx, const Message& message) override {
    ABL_ASSERT(worker_idx == 0, "local pool has one worker, got index {}", worker_idx);
    if (auto reply = worker_.handle(message)) replies_.push_back(std::move(*reply));
  }
  std::pair<int, Message> receive_any() override {
    ABL_ASSERT(!replies_.empty(), "receive_any with no task in flight");
    Message reply = std::move(replies_.front());
    replies_.pop_front();
    return {0, std::move(reply)};
  }
  std::string worker_name(int) const override { return "the in-process worker"; }

 private:
  Worker worker_;
  std::deque<Message> replies_;
};

}  // namespace

MpiContext::MpiContext(int* argc, char*** argv) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) MPI_Init(argc, argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &world_size_);

  // Local rank among the ranks sharing this node (DESIGN.md §1: a worker uses
  // cuda:(local_rank % device_count)). Rank 0, the coordinator, is not a worker.
  MPI_Comm node_comm;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node_comm);
  int node_rank = 0, node_size = 1;
  MPI_Comm_rank(node_comm, &node_rank);
  MPI_Comm_size(node_comm, &node_size);
  int coordinator_here = rank_ == 0 ? 1 : 0;
  MPI_Allreduce(MPI_IN_PLACE, &coordinator_here, 1, MPI_INT, MPI_MAX, node_comm);
  MPI_Comm_free(&node_comm);
  placement_.local_rank = std::max(0, node_rank - coordinator_here);
  placement_.local_workers = world_size_ == 1 ? 1 : std::max(1, node_size - coordinator_here);
}

MpiContext::~MpiContext() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

void MpiContext::abort(int code) const {
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

std::unique_ptr<WorkerPool> make_mpi_worker_pool(const MpiContext& mpi) {
  ABL_ASSERT(mpi.rank() == 0, "only rank 0 holds the worker pool");
  return std::make_unique<MpiWorkerPool>(mpi.world_size());
}

std::unique_ptr<WorkerPool> make_local_worker_pool() { return std::make_unique<LocalWorkerPool>(); }

void run_worker_loop(WorkerPlacement placement) {
  Worker worker(placement);
  while (true) {
    auto [source, task] = receive_bytes(0);
    std::optional<Message> reply = worker.handle(task);
    if (!reply) return;
    send_bytes(0, *reply);
  }
}

}  // namespace abliterate::dist
