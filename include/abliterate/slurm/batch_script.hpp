// The batch script of `abliterate submit`: one study on N nodes, or a sweep
// as a job array with one task per entry, rendered from slurm/batch.sbatch.in
// (compiled into the binary, so an installed abliterate needs no source tree).
//
// Ranks: rank 0 coordinates and every other rank is a worker, one per GPU (or
// per CPU worker slot), so a study on N nodes x G workers runs N*G + 1 tasks.
// Note [The coordinator's task slot]: the allocation asks for G + 1 task
// slots on every node rather than --overcommit (which allocates one CPU per
// node for all the tasks and would starve the workers' CPU side); srun then
// starts N*G + 1 tasks, and its block layout, which counts tasks out over the
// nodes in turn and numbers them node by node, puts rank 0 and G workers on
// the first node and G workers on each other. Each other node keeps one idle
// slot: a CPU, no GPU. The worker takes cuda:(its rank among the node's
// workers), mpi/mpi_context.cpp. With --overcommit (a node with fewer CPUs
// than tasks) the allocation asks for N*G + 1 tasks instead: Slurm 22.05
// refuses an --ntasks-per-node above a node's CPUs even then ("Requested node
// configuration is not available"), and the layout still puts rank 0 and G
// workers first.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <variant>

namespace abliterate::slurm {

// What a worker rank runs on: one GPU each, or the CPU.
enum class WorkerDevice { gpu, cpu };

// The allocation. Optional strings are left to the cluster's defaults when unset.
struct Resources {
  int64_t n_nodes = 1;
  WorkerDevice worker_device = WorkerDevice::gpu;
  int64_t n_workers_per_node = 1;         // gpu: GPUs per node, one worker each; cpu: CPU worker ranks
  bool is_overcommitted = false;          // more tasks than CPUs (a small node): --overcommit on sbatch and srun
  std::optional<std::string> time_limit;  // --time, Slurm's syntax (e.g. 1-00:00:00)
  std::optional<std::string> partition;
  std::optional<std::string> account;
  std::optional<std::string> qos;
  // USR1 reaches the batch shell this long before the time limit: the job's
  // grace period for the trials in flight, plus time to record and requeue.
  int64_t signal_lead_s = 90;
};

// One study: `abliterate run JOB`.
struct StudyRun {
  std::filesystem::path job_path;  // absolute: the job may start in another folder
};

// A sweep: a job array whose task i runs `abliterate sweep SWEEP --entry i`.
struct SweepRun {
  std::filesystem::path sweep_path;   // absolute
  int64_t n_entries = 0;              // array tasks 0 .. n_entries-1
  std::optional<int64_t> n_parallel;  // at most this many tasks at once (--array=...%P); unset: all
};

struct BatchRequest {
  std::string job_name;                   // #SBATCH --job-name; see default_job_name
  std::filesystem::path abliterate_path;  // the program each task runs (quoted in the script)
  std::filesystem::path work_dir;         // the script cd's here: relative store and cache paths resolve against it
  Resources resources;
  std::variant<StudyRun, SweepRun> run;
};

// Number of tasks (MPI ranks) of one study: n_nodes * n_workers_per_node + 1.
int64_t n_tasks(const Resources& resources);

// "abliterate-<stem of path>", with characters an #SBATCH line cannot hold as '_'.
std::string default_job_name(const std::filesystem::path& path);

// The batch script. Every path is shell-quoted, so no path can inject a
// command; #SBATCH values go through sbatch_line. Throws InputError naming the
// option when a count is out of range (nodes, workers, array tasks,
// parallelism, signal lead) or a value cannot go on an #SBATCH line.
std::string render_batch_script(const BatchRequest& request);

}  // namespace abliterate::slurm
