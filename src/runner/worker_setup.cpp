#include "abliterate/runner/worker_setup.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "abliterate/config/job_loader.hpp"

namespace abliterate::runner {

mpi::Message setup_message(const config::Job& job, const StudyInputs& inputs) {
  mpi::Message setup{mpi::MessageType::setup, {{"job", config::job_to_json(job)}, {"job_path", job.source_path.string()}}, {}};
  if (job.batch_size == 0) {
    const size_t n = std::min(inputs.good.size(), static_cast<size_t>(job.max_batch_size));
    setup.meta["batch_size_prompts"] = prompts_to_json(inputs.good, 0, n);
  }
  return setup;
}

void print_worker_ready(const std::string& worker_name, const mpi::Message& ready) {
  fmt::print("* {}: {} ({} threads)\n", worker_name, ready.meta.value("device", "?"), ready.meta.value("threads", 0));
  const nlohmann::json trials = ready.meta.value("batch_size_trials", nlohmann::json::array());
  if (trials.empty()) return;
  for (const nlohmann::json& trial : trials) {
    const nlohmann::json& throughput = trial.at("tokens_per_second");
    if (throughput.is_number()) {
      fmt::print("  * Trying batch size {}... Ok ({:.0f} tokens/s)\n", trial.at("batch_size").get<int64_t>(),
                 throughput.get<double>());
    } else {
      fmt::print("  * Trying batch size {}... Failed ({})\n", trial.at("batch_size").get<int64_t>(),
                 trial.at("error").get<std::string>());
    }
  }
  fmt::print("  * Chosen batch size: {}\n", ready.meta.at("batch_size").get<int64_t>());
}

}  // namespace abliterate::runner
