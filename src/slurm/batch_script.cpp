// See batch_script.hpp.
#include "abliterate/slurm/batch_script.hpp"

#include <fmt/format.h>

#include <map>
#include <vector>

#include "abliterate/common/error.hpp"
#include "abliterate/slurm/sbatch_line.hpp"
#include "abliterate/slurm/shell_quote.hpp"
#include "batch_template.hpp"

namespace abliterate::slurm {
namespace {

// Slurm keeps the --signal lead in 16 bits (sbatch's man page: 0 to 65535 s).
constexpr int64_t kMaxSignalLeadS = 65535;

void check_counts(const BatchRequest& request) {
  const Resources& resources = request.resources;
  ABL_CHECK(resources.n_nodes >= 1, InputError, "--nodes: expected 1 or more, got {}", resources.n_nodes);
  ABL_CHECK(resources.n_workers_per_node >= 1, InputError, "--{}: expected 1 or more, got {}",
            resources.worker_device == WorkerDevice::gpu ? "gpus-per-node" : "workers-per-node",
            resources.n_workers_per_node);
  ABL_CHECK(resources.signal_lead_s >= 1 && resources.signal_lead_s <= kMaxSignalLeadS, InputError,
            "the USR1 lead before the time limit must be 1 to {} s, got {}", kMaxSignalLeadS, resources.signal_lead_s);
  if (const auto* sweep = std::get_if<SweepRun>(&request.run)) {
    ABL_CHECK(sweep->n_entries >= 1, InputError, "{}: the sweep has no entries; nothing to submit",
              sweep->sweep_path.string());
    ABL_CHECK(!sweep->n_parallel || *sweep->n_parallel >= 1, InputError, "--array-parallel: expected 1 or more, got {}",
              sweep->n_parallel.value_or(0));
  }
}

std::vector<std::string> sbatch_lines(const BatchRequest& request) {
  const Resources& resources = request.resources;
  std::vector<std::string> lines;
  lines.push_back(sbatch_line("job-name", request.job_name));
  lines.push_back(sbatch_line("nodes", std::to_string(resources.n_nodes)));
  // Note [The coordinator's task slot] (batch_script.hpp).
  if (resources.is_overcommitted) {
    lines.push_back(sbatch_line("ntasks", std::to_string(n_tasks(resources))));
  } else {
    lines.push_back(sbatch_line("ntasks-per-node", std::to_string(resources.n_workers_per_node + 1)));
  }
  if (resources.worker_device == WorkerDevice::gpu) {
    lines.push_back(sbatch_line("gpus-per-node", std::to_string(resources.n_workers_per_node)));
  }
  if (resources.is_overcommitted) lines.push_back(sbatch_flag_line("overcommit"));
  if (resources.time_limit) lines.push_back(sbatch_line("time", *resources.time_limit));
  if (resources.partition) lines.push_back(sbatch_line("partition", *resources.partition));
  if (resources.account) lines.push_back(sbatch_line("account", *resources.account));
  if (resources.qos) lines.push_back(sbatch_line("qos", *resources.qos));
  if (const auto* sweep = std::get_if<SweepRun>(&request.run)) {
    std::string array = fmt::format("0-{}", sweep->n_entries - 1);
    if (sweep->n_parallel && *sweep->n_parallel < sweep->n_entries) array += fmt::format("%{}", *sweep->n_parallel);
    lines.push_back(sbatch_line("array", array));
  }
  // B: USR1 to the batch shell alone, whose trap passes it on (the template says how).
  lines.push_back(sbatch_line("signal", fmt::format("B:USR1@{}", resources.signal_lead_s)));
  lines.push_back(sbatch_flag_line("requeue"));
  // A requeued job appends to its log instead of truncating the first run's.
  lines.push_back(sbatch_line("open-mode", "append"));
  return lines;
}

std::string layout_note(const Resources& resources) {
  const int64_t n_workers = resources.n_nodes * resources.n_workers_per_node;
  const std::string per_node =
      resources.worker_device == WorkerDevice::gpu
          ? fmt::format("{} GPU{}", resources.n_workers_per_node, resources.n_workers_per_node == 1 ? "" : "s")
          : fmt::format("{} CPU worker{}", resources.n_workers_per_node, resources.n_workers_per_node == 1 ? "" : "s");
  return fmt::format(
      "Here {} node{} x {} = {} worker{} + rank 0 = {} tasks; the first node runs rank 0 and {} worker{}\n"
      "# (Note [The coordinator's task slot], include/abliterate/slurm/batch_script.hpp).",
      resources.n_nodes, resources.n_nodes == 1 ? "" : "s", per_node, n_workers, n_workers == 1 ? "" : "s",
      n_tasks(resources), resources.n_workers_per_node, resources.n_workers_per_node == 1 ? "" : "s");
}

std::string srun_options(const Resources& resources) {
  std::string options = fmt::format("--ntasks={}", n_tasks(resources));
  if (resources.is_overcommitted) options += " --overcommit";
  return options;
}

std::string abliterate_args(const BatchRequest& request) {
  if (const auto* study = std::get_if<StudyRun>(&request.run)) {
    return "run " + shell_quote(study->job_path.string());
  }
  const auto& sweep = std::get<SweepRun>(request.run);
  return "sweep " + shell_quote(sweep.sweep_path.string()) + " --entry \"$SLURM_ARRAY_TASK_ID\"";
}

std::string description(const BatchRequest& request) {
  if (const auto* study = std::get_if<StudyRun>(&request.run)) {
    return "One abliterate study: " + study->job_path.string();
  }
  const auto& sweep = std::get<SweepRun>(request.run);
  return fmt::format("An abliterate sweep as a job array, one task per entry ({} entries): {}", sweep.n_entries,
                     sweep.sweep_path.string());
}

// A comment line holds anything but a line break.
std::string one_line(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = '?';
  }
  return text;
}

}  // namespace

int64_t n_tasks(const Resources& resources) { return resources.n_nodes * resources.n_workers_per_node + 1; }

std::string default_job_name(const std::filesystem::path& path) {
  return "abliterate-" + sbatch_safe(path.stem().string());
}

std::string render_batch_script(const BatchRequest& request) {
  check_counts(request);
  std::string sbatch_block;
  for (const std::string& line : sbatch_lines(request)) sbatch_block += line + "\n";
  sbatch_block.pop_back();  // the template's own line break follows
  return fill_placeholders(batch_script_template(), {
                                                        {"DESCRIPTION", one_line(description(request))},
                                                        {"SBATCH_LINES", sbatch_block},
                                                        {"LAYOUT_NOTE", layout_note(request.resources)},
                                                        {"ABLITERATE", shell_quote(request.abliterate_path.string())},
                                                        {"WORK_DIR", shell_quote(request.work_dir.string())},
                                                        {"SRUN_OPTIONS", srun_options(request.resources)},
                                                        {"ABLITERATE_ARGS", abliterate_args(request)},
                                                    });
}

}  // namespace abliterate::slurm
