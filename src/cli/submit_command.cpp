// `abliterate submit JOB|SWEEP`: a batch script from slurm/batch.sbatch.in,
// piped to sbatch (or printed with --dry-run). The rendering is the slurm
// module's; here the file is read, the layout chosen and the result printed.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "abliterate/cli/commands.hpp"
#include "abliterate/common/error.hpp"
#include "abliterate/config/job.hpp"
#include "abliterate/config/job_loader.hpp"
#include "abliterate/config/sweep.hpp"
#include "abliterate/config/yaml_to_json.hpp"
#include "abliterate/slurm/batch_script.hpp"
#include "abliterate/slurm/sbatch_submit.hpp"

namespace abliterate::cli {
namespace {

namespace fs = std::filesystem;

// Seconds between the end of the grace period and the time limit: rank 0
// records the trials still in flight, flushes the store and stops the
// workers, srun ends and the script requeues; a few seconds each, doubled.
constexpr int64_t kSignalMarginS = 30;

// What the file holds: its jobs (one, or a sweep's entries) and how it runs.
struct Submission {
  std::vector<config::Job> jobs;
  std::variant<slurm::StudyRun, slurm::SweepRun> run;
  std::optional<fs::path> sweep_out_dir;  // a sweep's folder of studies (`abliterate status` reads it)
};

// A file whose top level has `models:` is a sweep (config/sweep.hpp), any
// other a job; either is loaded in full, so that a broken file is refused
// here rather than after hours in the queue.
Submission load_submission(const SubmitArgs& args) {
  const fs::path path = fs::absolute(args.path).lexically_normal();
  ABL_CHECK(fs::is_regular_file(path), InputError, "{}: no such file (expected a job file or a sweep file)", args.path);
  const nlohmann::json document = config::yaml_to_json(config::read_job_text(path), args.path);
  Submission submission;
  if (document.is_object() && document.contains("models")) {
    config::Sweep sweep = config::load_sweep(path);
    submission.sweep_out_dir = fs::absolute(sweep.out_dir);
    for (config::SweepEntry& entry : sweep.entries) submission.jobs.push_back(std::move(entry.job));
    submission.run = slurm::SweepRun{path, static_cast<int64_t>(submission.jobs.size()), args.array_parallel};
    return submission;
  }
  ABL_CHECK(!args.array_parallel, InputError,
            "--array-parallel: {} is a job, not a sweep (a sweep file has a top-level `models:` list)", args.path);
  submission.jobs.push_back(config::load_job(path));
  submission.run = slurm::StudyRun{path};
  return submission;
}

// GPU workers (--gpus-per-node) or CPU workers (--workers-per-node), checked
// against the jobs' `device`; without either, the device decides: cpu jobs
// get one CPU worker per node, the others one GPU.
void choose_workers(const SubmitArgs& args, const std::vector<config::Job>& jobs, slurm::Resources& resources) {
  const auto has_device = [&](const char* device) {
    return std::any_of(jobs.begin(), jobs.end(), [&](const config::Job& job) { return job.device == device; });
  };
  const bool all_cpu =
      std::all_of(jobs.begin(), jobs.end(), [](const config::Job& job) { return job.device == "cpu"; });
  if (args.n_workers_per_node) {
    ABL_CHECK(!has_device("cuda"), InputError,
              "{}: device: cuda needs GPUs, and --workers-per-node asks for none; give --gpus-per-node", args.path);
    resources.worker_device = slurm::WorkerDevice::cpu;
    resources.n_workers_per_node = *args.n_workers_per_node;
  } else if (args.n_gpus_per_node) {
    ABL_CHECK(!has_device("cpu"), InputError,
              "{}: device: cpu would leave the GPUs --gpus-per-node asks for idle; give --workers-per-node (CPU "
              "worker ranks per node) instead",
              args.path);
    resources.worker_device = slurm::WorkerDevice::gpu;
    resources.n_workers_per_node = *args.n_gpus_per_node;
  } else {
    resources.worker_device = all_cpu ? slurm::WorkerDevice::cpu : slurm::WorkerDevice::gpu;
    resources.n_workers_per_node = 1;
  }
}

// The program the tasks run: this one, unless ABLITERATE names another (an
// install path that differs on the compute nodes).
fs::path abliterate_path() {
  if (const char* env = std::getenv("ABLITERATE"); env != nullptr && *env != '\0') return env;
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  ABL_CHECK(!ec, IoError, "cannot find this program's path (/proc/self/exe: {}); set ABLITERATE to it", ec.message());
  return self;
}

std::string layout_summary(const slurm::Resources& resources) {
  const bool is_gpu = resources.worker_device == slurm::WorkerDevice::gpu;
  const int64_t n_workers = slurm::n_tasks(resources) - 1;
  return fmt::format("{} node{} x {} {}{} = {} tasks (rank 0 + {} worker{})", resources.n_nodes,
                     resources.n_nodes == 1 ? "" : "s", resources.n_workers_per_node, is_gpu ? "GPU" : "CPU worker",
                     resources.n_workers_per_node == 1 ? "" : "s", slurm::n_tasks(resources), n_workers,
                     n_workers == 1 ? "" : "s");
}

}  // namespace

int submit_command(const SubmitArgs& args) {
  Submission submission = load_submission(args);

  slurm::BatchRequest request;
  request.abliterate_path = abliterate_path();
  request.work_dir = fs::current_path();
  request.job_name = slurm::default_job_name(args.path);
  slurm::Resources& resources = request.resources;
  resources.n_nodes = args.n_nodes;
  choose_workers(args, submission.jobs, resources);
  resources.is_overcommitted = args.is_overcommitted;
  resources.time_limit = args.time_limit;
  resources.partition = args.partition;
  resources.account = args.account;
  resources.qos = args.qos;
  double grace_period_s = 0;
  for (const config::Job& job : submission.jobs) grace_period_s = std::max(grace_period_s, job.grace_period);
  resources.signal_lead_s = static_cast<int64_t>(std::ceil(grace_period_s)) + kSignalMarginS;
  request.run = submission.run;

  const std::string script = slurm::render_batch_script(request);
  if (args.is_dry_run) {
    fmt::print("{}", script);
    return 0;
  }
  const std::string job_id = slurm::submit_with_sbatch(script);
  // sbatch's own wording first: scripts that parse sbatch's output parse this.
  fmt::print("Submitted batch job {}\n", job_id);
  if (const auto* sweep = std::get_if<slurm::SweepRun>(&submission.run)) {
    fmt::print(
        "A job array of {} tasks, one per entry, each on {}; logs: {}/slurm-{}_<entry>.out; "
        "`abliterate status {}` shows the studies\n",
        sweep->n_entries, layout_summary(resources), request.work_dir.string(), job_id,
        submission.sweep_out_dir->string());
  } else {
    fmt::print("One study on {}; log: {}/slurm-{}.out\n", layout_summary(resources), request.work_dir.string(), job_id);
  }
  return 0;
}

}  // namespace abliterate::cli
