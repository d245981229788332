// A replica: one model on one device with its evaluator and the trial
// context, answering typed requests (runner/protocol.hpp). The MPI worker
// (worker.hpp) and the in-process `abliterate evaluate` both call it
// directly; it keeps no state a restart would lose: everything comes in
// requests.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "abliterate/config/job.hpp"
#include "abliterate/method/ablation.hpp"
#include "abliterate/mpi/mpi_context.hpp"
#include "abliterate/model/projection_hook.hpp"
#include "abliterate/runner/protocol.hpp"

namespace abliterate::evaluate {
class Evaluator;
}
namespace abliterate::model {
class Model;
}

namespace abliterate::runner {

class Replica {
 public:
  explicit Replica(mpi::WorkerPlacement placement);
  ~Replica();

  // Loads the job's model (the job's dtypes in order), dropping any earlier
  // study's model and context; with batch_size 0 times batch sizes first.
  Ready load(const SetupTask& task);

  ResidualSumsReply residual_sums(const ResidualsTask& task) const;
  LogprobsReply first_token_logprobs(const LogprobsTask& task) const;
  RefusalsReply count_refusals(const RefusalsTask& task) const;
  ResponsesReply prefix_probe_responses(const ResponsesTask& task) const;

  // Keeps what every trial needs; then trials can run.
  void set_trial_context(const ContextTask& task);
  // Ablates with the trial's parameters and measures KL and refusals.
  TrialResult run_trial(const TrialTask& task) const;
  // Several trials evaluated together, their rows sharing forward batches
  // (trials_per_worker). When the joint evaluation fails, or responses are
  // printed, each trial runs alone, so that one trial's error fails only it.
  TrialsReply run_trials(const TrialsTask& task) const;

 private:
  // The trial's ablation (with the test faults' NaN directions).
  method::AblationHook trial_hook(const TrialTask& task) const;
  TrialResult finish_result(int64_t trial_id, std::chrono::steady_clock::time_point started) const;

  struct WholeResponses {
    std::vector<std::string> texts;
    int64_t refusals = 0;
  };
  // Every prompt's response to max_response_length (no early stop) and the refusals among them.
  WholeResponses whole_responses(const std::vector<std::string>& rendered, const model::ProjectionHook* hook) const;
  std::vector<std::string> render(const std::vector<data::Prompt>& prompts, const std::string& response_prefix) const;

  mpi::WorkerPlacement placement_;
  std::unique_ptr<config::Job> job_;
  std::unique_ptr<model::Model> model_;
  std::unique_ptr<evaluate::Evaluator> evaluator_;
  // From the context:
  torch::Tensor directions_;         // float32 [L+1, d]
  torch::Tensor baseline_logprobs_;  // float32 [N_good_eval, V]
  std::vector<std::string> good_evaluation_;  // rendered prompts
  std::vector<std::string> bad_evaluation_;
};

}  // namespace abliterate::runner
