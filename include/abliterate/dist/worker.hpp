// A worker: holds one model replica and answers the coordinator's tasks
// (residual sums, baseline log-probs, refusal counts, trials). It keeps no
// state a restart would lose: everything comes in messages.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "abliterate/config/job.hpp"
#include "abliterate/dist/messages.hpp"
#include "abliterate/model/projection_hook.hpp"

namespace abliterate::evaluate {
class Evaluator;
}
namespace abliterate::model {
class Model;
}

namespace abliterate::dist {

struct WorkerPlacement {
  int local_rank = 0;    // among the ranks on this node
  int local_workers = 1; // worker ranks on this node (CPU threads are split among them)
};

class Worker {
 public:
  explicit Worker(WorkerPlacement placement);
  ~Worker();

  // Handles one task. Returns the reply, or nullopt for `stop`. An error in a
  // trial becomes a `failure` reply for that trial and the worker goes on; an
  // error elsewhere becomes a `failure` reply without trial_id.
  std::optional<Message> handle(const Message& task);

 private:
  Message on_setup(const Message& task);
  Message on_residuals(const Message& task);
  Message on_logprobs(const Message& task);
  Message on_refusals(const Message& task);
  Message on_responses(const Message& task);
  Message on_context(const Message& task);
  Message on_trial(const Message& task);

  struct WholeResponses {
    std::vector<std::string> texts;
    int64_t refusals = 0;
  };
  // Every prompt's response to max_response_length (no early stop) and the refusals among them.
  WholeResponses whole_responses(const std::vector<std::string>& rendered, const model::ProjectionHook* hook) const;

  WorkerPlacement placement_;
  std::unique_ptr<config::Job> job_;
  std::unique_ptr<model::Model> model_;
  std::unique_ptr<evaluate::Evaluator> evaluator_;
  // From the context message:
  torch::Tensor directions_;         // float32 [L+1, d]
  torch::Tensor baseline_logprobs_;  // float32 [N_good_eval, V]
  std::vector<std::string> good_evaluation_;  // rendered prompts
  std::vector<std::string> bad_evaluation_;
};

// The worker rank's main loop under MPI: receive from rank 0, handle, reply,
// until `stop`. Returns normally after stop.
void run_worker_loop(WorkerPlacement placement);

}  // namespace abliterate::dist
