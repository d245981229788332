// bench/scaling_bench: the coordinator's trial loop under mpirun, with real
// MPI ranks, a real SQLite store and the TPE sampler, against workers whose
// "evaluation" sleeps a fixed time (issue 12). Prints trials/s and the
// coordinator's time per trial (sampling, store writes, messages), so that
// bench/scaling.sh can report scaling efficiency and overhead.
//
//   mpirun -n K+1 build/scaling_bench --trials N --sleep SECONDS [--startup M]
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include "abliterate/mpi/mpi_context.hpp"
#include "abliterate/runner/protocol.hpp"
#include "abliterate/runner/trial_loop.hpp"
#include "abliterate/study/search_space.hpp"
#include "abliterate/study/sqlite_store.hpp"

namespace {

using namespace abliterate;
using Clock = std::chrono::steady_clock;

struct Options {
  int64_t trials = 16;
  double sleep_seconds = 2.0;
  int64_t startup = 10;
};

// This process's CPU time (user + system) in seconds: the coordinator's own
// work, whatever else the machine runs.
double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

Options parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--trials") options.trials = std::stoll(argv[i + 1]);
    if (flag == "--sleep") options.sleep_seconds = std::stod(argv[i + 1]);
    if (flag == "--startup") options.startup = std::stoll(argv[i + 1]);
  }
  return options;
}

// A worker that takes `sleep_seconds` per trial and answers a KL and refusal
// count made from the parameters, so that TPE has a landscape to model.
void run_sleeping_worker(const mpi::Communicator& comm, double sleep_seconds) {
  while (true) {
    auto [source, task] = *comm.receive(0, std::nullopt);
    if (task.type == mpi::MessageType::stop) return;
    const runner::TrialTask trial = runner::from_message<runner::TrialTask>(task);
    std::this_thread::sleep_for(std::chrono::duration<double>(sleep_seconds));
    double kl = 0.0;
    for (double v : trial.values) kl += std::sin(v);
    comm.send(0, runner::to_message(runner::TrialResult{.trial_id = trial.trial_id,
                                                        .kl_divergence = std::fabs(kl),
                                                        .refusals = static_cast<int64_t>(std::fabs(kl) * 10) % 50,
                                                        .seconds = sleep_seconds,
                                                        .texts = {}}));
  }
}

}  // namespace

int main(int argc, char** argv) {
  mpi::MpiContext mpi_context(&argc, &argv);
  const Options options = parse(argc, argv);
  if (mpi_context.rank() != 0) {
    run_sleeping_worker(mpi_context.world(), options.sleep_seconds);
    return 0;
  }
  const std::filesystem::path store_path =
      std::filesystem::temp_directory_path() / fmt::format("abl_scaling_bench_{}.db", ::getpid());
  std::filesystem::remove(store_path);
  double seconds = 0.0;
  double cpu = 0.0;
  {
    std::unique_ptr<study::SqliteStore> store = study::SqliteStore::open(store_path);
    const int64_t study_id = store->create_study("scaling", {study::Direction::MINIMIZE, study::Direction::MINIMIZE},
                                                 nlohmann::json{{"finished", false}});
    config::Job job;
    job.n_trials = options.trials;
    job.n_startup_trials = options.startup;
    std::unique_ptr<mpi::WorkerPool> pool = mpi::make_mpi_worker_pool(mpi_context.world());
    mpi::StopWorkersOnExit stop_workers(*pool);
    // The loop's per-trial report goes to stdout, which bench/scaling.sh
    // sends to /dev/null; the figures go to stderr.
    const Clock::time_point started = Clock::now();
    const double cpu_started = cpu_seconds();
    runner::run_trial_loop(runner::TrialLoopInputs{.job = job,
                                                   .store = *store,
                                                   .study_id = study_id,
                                                   .space = study::heretic_search_space(32),
                                                   .refusals_baseline = 50,
                                                   .n_bad_evaluation_prompts = 100,
                                                   .n_trials = options.trials,
                                                   .requeued = {},
                                                   .requeued_system_attrs = {},
                                                   .bad_evaluation = {}},
                           *pool);
    seconds = std::chrono::duration<double>(Clock::now() - started).count();
    cpu = cpu_seconds() - cpu_started;
  }
  std::filesystem::remove(store_path);
  const int workers = mpi_context.world_size() - 1;
  const double ideal = std::ceil(static_cast<double>(options.trials) / workers) * options.sleep_seconds;
  // Each worker sleeps ceil(N/K) times: the ideal wall time. The
  // coordinator's overhead is its CPU time per trial (sampling, SQLite,
  // messages, the printed report).
  fmt::print(stderr,
             "workers={} trials={} sleep={}s wall={:.3f}s ideal={:.3f}s trials_per_s={:.4f} "
             "coordinator_cpu_per_trial_ms={:.3f}\n",
             workers, options.trials, options.sleep_seconds, seconds, ideal,
             static_cast<double>(options.trials) / seconds, cpu / static_cast<double>(options.trials) * 1000.0);
  return 0;
}
