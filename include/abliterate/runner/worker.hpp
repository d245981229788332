// A worker: holds one model replica and answers the coordinator's tasks
// (residual sums, baseline log-probs, refusal counts, trials). It keeps no
// state a restart would lose: everything comes in messages.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "abliterate/config/job.hpp"
#include "abliterate/mpi/messages.hpp"
#include "abliterate/mpi/mpi_context.hpp"
#include "abliterate/model/projection_hook.hpp"

namespace abliterate::evaluate {
class Evaluator;
}
namespace abliterate::model {
class Model;
}

namespace abliterate::runner {

class Worker {
 public:
  explicit Worker(mpi::WorkerPlacement placement);
  ~Worker();

  // Handles one task. Returns the reply, or nullopt for `stop`. An error in a
  // trial becomes a `failure` reply for that trial and the worker goes on; an
  // error elsewhere becomes a `failure` reply without trial_id.
  std::optional<mpi::Message> handle(const mpi::Message& task);

 private:
  mpi::Message on_setup(const mpi::Message& task);
  mpi::Message on_residuals(const mpi::Message& task);
  mpi::Message on_logprobs(const mpi::Message& task);
  mpi::Message on_refusals(const mpi::Message& task);
  mpi::Message on_responses(const mpi::Message& task);
  mpi::Message on_context(const mpi::Message& task);
  mpi::Message on_trial(const mpi::Message& task);

  struct WholeResponses {
    std::vector<std::string> texts;
    int64_t refusals = 0;
  };
  // Every prompt's response to max_response_length (no early stop) and the refusals among them.
  WholeResponses whole_responses(const std::vector<std::string>& rendered, const model::ProjectionHook* hook) const;

  mpi::WorkerPlacement placement_;
  std::unique_ptr<config::Job> job_;
  std::unique_ptr<model::Model> model_;
  std::unique_ptr<evaluate::Evaluator> evaluator_;
  // From the context message:
  torch::Tensor directions_;         // float32 [L+1, d]
  torch::Tensor baseline_logprobs_;  // float32 [N_good_eval, V]
  std::vector<std::string> good_evaluation_;  // rendered prompts
  std::vector<std::string> bad_evaluation_;
};

}  // namespace abliterate::runner
