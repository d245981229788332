#include "abliterate/mpi/mpi_context.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include <mpi.h>

#include "abliterate/common/error.hpp"
#include "abliterate/mpi/messages.hpp"

namespace abliterate::mpi {
namespace {

constexpr int kTagMessage = 1;

// Note [Polling instead of blocking receives]
// Open MPI's blocking receive spins a core at 100%. Workers wait while the
// coordinator prepares and the coordinator waits through whole trials, and on
// a CPU run those spinning ranks would steal the cores the model needs. So
// both sides poll with MPI_Iprobe and sleep between polls: 20 us at first,
// doubling to 1 ms, so that a quick reply (a trial's round trip) costs
// microseconds while a long wait costs a poll per millisecond.
std::optional<MPI_Status> wait_for_message(MPI_Comm comm, int source,
                                           std::optional<std::chrono::milliseconds> timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout.value_or(std::chrono::milliseconds(0));
  constexpr std::chrono::microseconds kFirstPause{20};
  constexpr std::chrono::microseconds kLongestPause{1000};
  std::chrono::microseconds pause = kFirstPause;
  MPI_Status status;
  int flag = 0;
  while (true) {
    MPI_Iprobe(source, kTagMessage, comm, &flag, &status);
    if (flag) return status;
    if (timeout && std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, kLongestPause);
  }
}

void check_mpi(int rc, const char* what, int peer) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(rc, text, &length);
  throw IoError(fmt::format("MPI {} with rank {} failed: {}", what, peer, std::string(text, length)));
}

MPI_Comm to_comm(int handle) { return MPI_Comm_f2c(handle); }

class MpiWorkerPool : public WorkerPool {
 public:
  explicit MpiWorkerPool(const Communicator& comm) : comm_(comm) {}
  int n_workers() const override { return comm_.size() - 1; }
  void send(int worker_idx, const Message& message) override { comm_.send(worker_idx + 1, message); }
  std::pair<int, Message> receive_any() override {
    auto [rank, message] = *comm_.receive(kAnySource, std::nullopt);
    return {rank - 1, std::move(message)};
  }
  std::optional<std::pair<int, Message>> receive_any_for(std::chrono::milliseconds timeout) override {
    auto received = comm_.receive(kAnySource, timeout);
    if (!received) return std::nullopt;
    return std::pair<int, Message>{received->first - 1, std::move(received->second)};
  }
  std::string worker_name(int worker_idx) const override { return fmt::format("rank {}", worker_idx + 1); }
  std::string worker_host(int worker_idx) const override { return comm_.host(worker_idx + 1); }

 private:
  const Communicator& comm_;
};

}  // namespace

Communicator::Communicator(int fortran_handle) : handle_(fortran_handle) {
  MPI_Comm comm = to_comm(handle_);
  int size = 1;
  MPI_Comm_rank(comm, &rank_);
  MPI_Comm_size(comm, &size);
  char name[MPI_MAX_PROCESSOR_NAME] = {};
  int length = 0;
  MPI_Get_processor_name(name, &length);
  std::vector<char> names(static_cast<size_t>(size) * MPI_MAX_PROCESSOR_NAME);
  MPI_Allgather(name, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, names.data(), MPI_MAX_PROCESSOR_NAME, MPI_CHAR, comm);
  for (int r = 0; r < size; ++r) hosts_.emplace_back(names.data() + static_cast<size_t>(r) * MPI_MAX_PROCESSOR_NAME);
}

void Communicator::send(int dest, const Message& message) const {
  const std::vector<uint8_t> bytes = encode_message(message);
  ABL_CHECK(bytes.size() < static_cast<size_t>(INT32_MAX), InputError,
            "message {} to rank {} is {} bytes, over MPI's 2 GiB limit; lower the number of evaluation prompts",
            to_string(message.type), dest, bytes.size());
  check_mpi(MPI_Send(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE, dest, kTagMessage, to_comm(handle_)),
            "send", dest);
}

std::optional<std::pair<int, Message>> Communicator::receive(int source,
                                                             std::optional<std::chrono::milliseconds> timeout) const {
  const MPI_Comm comm = to_comm(handle_);
  std::optional<MPI_Status> status = wait_for_message(comm, source == kAnySource ? MPI_ANY_SOURCE : source, timeout);
  if (!status) return std::nullopt;
  int count = 0;
  MPI_Get_count(&*status, MPI_BYTE, &count);
  std::vector<uint8_t> bytes(static_cast<size_t>(count));
  check_mpi(MPI_Recv(bytes.data(), count, MPI_BYTE, status->MPI_SOURCE, kTagMessage, comm, MPI_STATUS_IGNORE),
            "receive", status->MPI_SOURCE);
  try {
    return std::pair<int, Message>{status->MPI_SOURCE, decode_message(bytes.data(), bytes.size())};
  } catch (const FormatError& e) {
    throw FormatError(fmt::format("from rank {}: {}", status->MPI_SOURCE, e.what()));
  }
}

Communicator Communicator::split(int color) const {
  MPI_Comm part;
  MPI_Comm_split(to_comm(handle_), color, rank_, &part);
  // Not freed: a sweep splits once per process, and MPI_Finalize frees it.
  return Communicator(MPI_Comm_c2f(part));
}

WorkerPlacement Communicator::node_placement(bool is_worker) const {
  // Local rank among the worker ranks sharing this node (DESIGN.md §1: a
  // worker uses cuda:(local_rank % device_count)); coordinators are not workers.
  MPI_Comm node_comm;
  MPI_Comm_split_type(to_comm(handle_), MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node_comm);
  const int worker = is_worker ? 1 : 0;
  int workers_before = 0;
  int workers_here = 0;
  MPI_Exscan(&worker, &workers_before, 1, MPI_INT, MPI_SUM, node_comm);
  MPI_Allreduce(&worker, &workers_here, 1, MPI_INT, MPI_SUM, node_comm);
  int node_rank = 0;
  MPI_Comm_rank(node_comm, &node_rank);
  MPI_Comm_free(&node_comm);
  if (node_rank == 0) workers_before = 0;  // MPI_Exscan leaves rank 0's result undefined
  return WorkerPlacement{.local_rank = workers_before, .local_workers = std::max(1, workers_here)};
}

MpiContext::MpiContext(int* argc, char*** argv) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) MPI_Init(argc, argv);
  world_.reset(new Communicator(MPI_Comm_c2f(MPI_COMM_WORLD)));
  placement_ = world_->node_placement(/*is_worker=*/world_->rank() != 0);
}

MpiContext::~MpiContext() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

void MpiContext::abort(int code) const {
  std::fflush(nullptr);  // _Exit and MPI_Abort flush nothing
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

std::unique_ptr<WorkerPool> make_mpi_worker_pool(const Communicator& comm) {
  ABL_ASSERT(comm.rank() == 0, "only rank 0 holds the worker pool");
  return std::make_unique<MpiWorkerPool>(comm);
}

}  // namespace abliterate::mpi
