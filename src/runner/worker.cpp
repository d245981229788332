#include "abliterate/runner/worker.hpp"

#include <fmt/format.h>

#include "abliterate/common/error.hpp"
#include "abliterate/common/error_kind.hpp"

namespace abliterate::runner {

std::optional<mpi::Message> Worker::handle(const mpi::Message& task) {
  if (task.type == mpi::MessageType::stop) return std::nullopt;
  try {
    return dispatch(task);
  } catch (const std::exception& e) {
    Failure failure{.kind = kind_of(e), .reason = e.what(), .trial_id = std::nullopt};
    // A failed trial is a result, not the end of the worker (DESIGN.md §2.5).
    if (task.type == mpi::MessageType::trial) {
      try {
        failure.trial_id = from_message<TrialTask>(task).trial_id;
      } catch (const Error&) {
        // A trial message too broken to name its trial: the failure says why.
      }
    }
    return to_message(failure);
  }
}

mpi::Message Worker::dispatch(const mpi::Message& task) {
  switch (task.type) {
    case mpi::MessageType::setup: return to_message(replica_.load(from_message<SetupTask>(task)));
    case mpi::MessageType::residuals: return to_message(replica_.residual_sums(from_message<ResidualsTask>(task)));
    case mpi::MessageType::logprobs: return to_message(replica_.first_token_logprobs(from_message<LogprobsTask>(task)));
    case mpi::MessageType::refusals: return to_message(replica_.count_refusals(from_message<RefusalsTask>(task)));
    case mpi::MessageType::responses:
      return to_message(replica_.prefix_probe_responses(from_message<ResponsesTask>(task)));
    case mpi::MessageType::context:
      replica_.set_trial_context(from_message<ContextTask>(task));
      return to_message(ContextReady{});
    case mpi::MessageType::trial: return to_message(replica_.run_trial(from_message<TrialTask>(task)));
    case mpi::MessageType::trials: return to_message(replica_.run_trials(from_message<TrialsTask>(task)));
    default: break;
  }
  throw FormatError(fmt::format("unexpected message type {}", to_string(task.type)));
}

}  // namespace abliterate::runner
