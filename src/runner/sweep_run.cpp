#include "abliterate/runner/sweep_run.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <vector>

#include <fmt/format.h>

#include "abliterate/common/error.hpp"
#include "abliterate/runner/coordinator.hpp"
#include "abliterate/runner/run_outcome.hpp"
#include "abliterate/runner/shutdown.hpp"
#include "abliterate/runner/task_runner.hpp"
#include "abliterate/runner/worker_loop.hpp"
#include "abliterate/study/sqlite_store.hpp"
#include "abliterate/study/study_overview.hpp"

namespace abliterate::runner {
namespace {

// True when the entry's store holds its study, marked finished by the run
// that completed its budget.
bool is_finished(const config::Job& job) {
  if (!std::filesystem::exists(job.store)) return false;
  const std::unique_ptr<study::SqliteStore> store = study::SqliteStore::open_read_only(job.store);
  const std::optional<int64_t> study_id = store->find_study(job.study_name);
  return study_id && study::is_study_finished(*store, *study_id);
}

// The wall-clock time as HH:MM:SS.mmm (UTC), stamped on an entry's start and
// end lines so that entries running side by side can be told apart in time.
std::string clock_time() {
  const auto now = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  return fmt::format("{:02}:{:02}:{:02}.{:03}", tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
}

// How a group's entries ended, worst first in precedence: an error, a worker
// abandoned, a stop signal.
struct GroupResult {
  int exit_code = 0;
  bool workers_abandoned = false;
};

// Runs `indices` of the sweep one after another on `pool`. With several
// groups printing at once, each entry's output goes to run.log in its folder
// and one line per entry to stderr.
GroupResult run_entries(const config::Sweep& sweep, const std::vector<size_t>& indices, mpi::WorkerPool& pool,
                        bool log_to_files) {
  GroupResult result;
  for (size_t position = 0; position < indices.size(); ++position) {
    const config::SweepEntry& entry = sweep.entries[indices[position]];
    const std::filesystem::path folder = sweep.out_dir / entry.name;
    std::filesystem::create_directories(folder);
    if (is_finished(entry.job)) {
      fmt::print(stderr, "sweep: entry {} ({}) is finished; skipped\n", indices[position], entry.name);
      continue;
    }
    std::filesystem::remove(folder / kEntryErrorFile);
    if (log_to_files) {
      std::fflush(stdout);
      ABL_CHECK(std::freopen((folder / "run.log").c_str(), "a", stdout) != nullptr, IoError,
                "{}: cannot open for writing", (folder / "run.log").string());
      fmt::print(stderr, "sweep: {} entry {} ({}) running on {} worker(s); log {}\n", clock_time(), indices[position],
                 entry.name, pool.n_workers(), (folder / "run.log").string());
    }
    fmt::print("\nsweep: entry {} of {}: {} ({})\n", indices[position] + 1, sweep.entries.size(), entry.name,
               entry.job.model);
    RunOutcome outcome;
    try {
      outcome = run_study(entry.job, RunOptions{}, pool);
    } catch (const Error& e) {
      std::ofstream(folder / kEntryErrorFile) << e.what() << "\n";
      fmt::print(stderr, "sweep: entry {} ({}) failed: {}\n", indices[position], entry.name, e.what());
      // A worker may still be busy with the failed study: the group's other
      // entries wait for a resume.
      for (size_t later = position + 1; later < indices.size(); ++later) {
        fmt::print(stderr, "sweep: entry {} ({}) not started; run the sweep again to resume\n", indices[later],
                   sweep.entries[indices[later]].name);
      }
      result.exit_code = 1;
      return result;
    }
    std::fflush(stdout);
    fmt::print(stderr, "sweep: {} entry {} ({}) {}\n", clock_time(), indices[position], entry.name,
               outcome.end == RunEnd::finished ? "finished" : "stopped; run the sweep again to resume");
    if (outcome.end != RunEnd::finished) {
      result.exit_code = exit_code(outcome.end);
      result.workers_abandoned = outcome.workers_abandoned;
      return result;
    }
  }
  return result;
}

}  // namespace

int run_sweep(const config::Sweep& sweep, const SweepOptions& options, const mpi::MpiContext& mpi_context) {
  std::vector<size_t> indices;
  if (options.entry) {
    ABL_CHECK(*options.entry < sweep.entries.size(), InputError, "--entry {}: {} has entries 0 to {}", *options.entry,
              sweep.source_path.string(), sweep.entries.size() - 1);
    indices.push_back(*options.entry);
  } else {
    for (size_t idx = 0; idx < sweep.entries.size(); ++idx) indices.push_back(idx);
  }
  const mpi::Communicator& world = mpi_context.world();
  if (world.size() == 1) {
    install_shutdown_handlers();
    std::unique_ptr<mpi::WorkerPool> pool = make_local_worker_pool();
    return run_entries(sweep, indices, *pool, /*log_to_files=*/false).exit_code;
  }

  // Contiguous blocks of ranks, one group per entry while ranks last (each
  // needs a coordinator and a worker); the first rank of a block coordinates.
  const size_t n_groups = std::min(indices.size(), static_cast<size_t>(world.size()) / 2);
  const std::vector<std::pair<size_t, size_t>> blocks = split_evenly(static_cast<size_t>(world.size()), n_groups);
  size_t group = 0;
  while (static_cast<size_t>(world.rank()) >= blocks[group].second) ++group;
  const bool is_coordinator = static_cast<size_t>(world.rank()) == blocks[group].first;
  const mpi::WorkerPlacement placement = world.node_placement(/*is_worker=*/!is_coordinator);
  const mpi::Communicator comm = world.split(static_cast<int>(group));
  if (!is_coordinator) {
    run_worker_rank(mpi_context, placement, comm);
    return 0;
  }
  install_shutdown_handlers();
  if (group == 0) {
    fmt::print(stderr, "sweep: {} entries on {} ranks in {} group(s) of {} to {} ranks\n", indices.size(),
               world.size(), n_groups, blocks.back().second - blocks.back().first, blocks[0].second - blocks[0].first);
  }
  std::vector<size_t> mine;
  for (size_t position = group; position < indices.size(); position += n_groups) mine.push_back(indices[position]);
  std::unique_ptr<mpi::WorkerPool> pool = mpi::make_mpi_worker_pool(comm);
  GroupResult result;
  {
    mpi::StopWorkersOnExit stop_workers(*pool);
    result = run_entries(sweep, mine, *pool, /*log_to_files=*/n_groups > 1);
  }
  if (result.workers_abandoned) mpi_context.abort(result.exit_code);
  return result.exit_code;
}

}  // namespace abliterate::runner
