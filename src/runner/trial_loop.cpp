#include "abliterate/runner/trial_loop.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "abliterate/common/duration.hpp"
#include "abliterate/common/error.hpp"
#include "abliterate/common/peak_memory.hpp"
#include "abliterate/config/ablation_params.hpp"
#include "abliterate/runner/protocol.hpp"
#include "abliterate/runner/response_log.hpp"
#include "abliterate/runner/shutdown.hpp"
#include "abliterate/study/attribute_names.hpp"
#include "abliterate/study/objectives.hpp"
#include "abliterate/study/random_sampler.hpp"
#include "abliterate/study/tpe_history.hpp"
#include "abliterate/study/tpe_sampler.hpp"

namespace abliterate::runner {
namespace {

using Clock = std::chrono::steady_clock;

// Heretic's TPESampler(n_ei_candidates=128, multivariate=True) (method spec §7.1).
constexpr int64_t kHereticEiCandidates = 128;

// Heretic's "* Parameters:" block (method spec §7.3), values .2f.
void print_parameters(const config::AblationParams& params) {
  fmt::print("* Parameters:\n");
  if (params.direction_index) {
    fmt::print("  * direction_index = {:.2f}\n", *params.direction_index);
  } else {
    fmt::print("  * direction_index = per layer\n");
  }
  for (const auto& [name, member] : config::kNamedComponents) {
    const config::ComponentParams& c = params.*member;
    fmt::print("  * {}.max_weight = {:.2f}\n", name, c.max_weight);
    fmt::print("  * {}.max_weight_position = {:.2f}\n", name, c.max_weight_position);
    fmt::print("  * {}.min_weight = {:.2f}\n", name, c.min_weight);
    fmt::print("  * {}.min_weight_distance = {:.2f}\n", name, c.min_weight_distance);
  }
}

class TrialLoop {
 public:
  TrialLoop(const TrialLoopInputs& in, mpi::WorkerPool& pool)
      : in_(in), pool_(pool), requeued_(in.requeued.begin(), in.requeued.end()),
        requeued_system_attrs_(in.requeued_system_attrs.begin(), in.requeued_system_attrs.end()) {
    ABL_ASSERT(requeued_.size() == requeued_system_attrs_.size(), "{} requeued trials but {} system attr sets",
               requeued_.size(), requeued_system_attrs_.size());
    for (const study::ParamSpec& spec : in_.space) distributions_.emplace_back(spec.name, spec.distribution);
    // The sampler keeps no state in the store (spec/optuna-compat.md §2): on
    // resume, advance its streams past the trials already drawn so a resumed
    // study does not repeat the first run's samples.
    history_ = in_.store.load_trials(in_.study_id);
    for (size_t idx = 0; idx < history_.size(); ++idx) history_index_.emplace(history_[idx].trial_id, idx);
    init_sampler(history_.size());
    for (const study::Trial& t : history_) n_complete_ += t.state == study::TrialState::COMPLETE ? 1 : 0;
    n_complete_at_start_ = n_complete_;
  }

  RunOutcome run() {
    for (int worker_idx = 0; worker_idx < pool_.n_workers(); ++worker_idx) {
      if (!dispatch(worker_idx)) break;
    }
    while (!in_flight_.empty()) {
      notice_stop_signal();
      std::optional<std::pair<int, mpi::Message>> received = pool_.receive_any_for(time_to_next_check());
      if (!received) {
        if (grace_is_over()) return give_up_in_flight();
        time_out_silent_workers();
        continue;
      }
      auto& [worker_idx, reply] = *received;
      if (hung_workers_.contains(worker_idx)) {
        // Its trial is recorded FAIL (worker timeout) already, and the run
        // is ending: a late answer changes nothing.
        fmt::print("\n{} answered after its worker_timeout; the reply is ignored.\n", pool_.worker_name(worker_idx));
        continue;
      }
      ABL_CHECK(in_flight_.contains(worker_idx), FormatError, "{} sent {} but has no trial in flight",
                pool_.worker_name(worker_idx), to_string(reply.type));
      if (reply.type == mpi::MessageType::trial_result) {
        const TrialResult result = from_message<TrialResult>(reply);
        record_result(worker_idx, take_in_flight(worker_idx, result.trial_id), result);
      } else if (reply.type == mpi::MessageType::trials_result) {
        const TrialsReply outcomes = from_message<TrialsReply>(reply);
        for (const TrialResult& result : outcomes.results) {
          record_result(worker_idx, take_in_flight(worker_idx, result.trial_id), result);
        }
        for (const Failure& failure : outcomes.failures) {
          ABL_CHECK(failure.trial_id.has_value(), FormatError, "{} reported a failure without its trial",
                    pool_.worker_name(worker_idx));
          fail(worker_idx, take_in_flight(worker_idx, *failure.trial_id), failure.kind, failure.reason);
        }
        ABL_CHECK(!in_flight_.contains(worker_idx), FormatError, "{} left {} of its trials unanswered",
                  pool_.worker_name(worker_idx), in_flight_.count(worker_idx));
      } else if (reply.type == mpi::MessageType::failure) {
        // One trial's failure, or a whole trials task the worker could not read.
        const Failure failure = from_message<Failure>(reply);
        for (const study::Trial& trial : take_all_in_flight(worker_idx)) {
          fail(worker_idx, trial, failure.kind, failure.reason);
        }
      } else {
        throw FormatError(fmt::format("{} replied {} to a trial", pool_.worker_name(worker_idx), to_string(reply.type)));
      }
      dispatch(worker_idx);
    }
    if (!hung_workers_.empty()) {
      std::vector<std::string> names;
      for (const auto& [worker_idx, name] : hung_workers_) names.push_back(name);
      fmt::print("\nStopped: {} sent nothing for {} (worker_timeout); {} recorded FAIL ({}) and will run again "
                 "first. Open MPI cannot drop a rank, so the run ends here; run the same command to resume.\n",
                 fmt::join(names, ", "), format_duration(in_.job.worker_timeout),
                 hung_workers_.size() == 1 ? "its trial is" : "their trials are", study::kWorkerTimeoutReason);
      return RunOutcome{.end = RunEnd::worker_timed_out, .workers_abandoned = true};
    }
    if (shutdown_requested()) {
      fmt::print("Stopped by signal {} after finishing the trials in flight; run the same command to resume.\n",
                 shutdown_signal());
      return RunOutcome{.end = RunEnd::interrupted};
    }
    return RunOutcome{.end = RunEnd::finished};
  }

 private:
  // The seed stored with the study, or the job's, stored now (first run).
  uint32_t study_seed() {
    const nlohmann::json attrs = in_.store.study_system_attrs(in_.study_id);
    if (attrs.contains(study::kSamplerSeedAttr) && attrs.at(study::kSamplerSeedAttr).is_number_integer()) {
      const auto stored = attrs.at(study::kSamplerSeedAttr).get<int64_t>();
      ABL_CHECK(stored >= 0 && stored <= int64_t{UINT32_MAX}, FormatError,
                "{}: study system attr {} = {} is not a 32-bit seed", in_.store.path().string(),
                study::kSamplerSeedAttr, stored);
      if (static_cast<uint64_t>(stored) != in_.job.seed) {
        fmt::print("Resuming with the study's sampler seed {} (the job says {}).\n", stored, in_.job.seed);
      }
      return static_cast<uint32_t>(stored);
    }
    in_.store.set_study_system_attr(in_.study_id, std::string(study::kSamplerSeedAttr), in_.job.seed);
    return static_cast<uint32_t>(in_.job.seed);
  }

  // TPE as Heretic configures it (method spec §7.1) with Optuna 5.0's
  // semantics; the constant liar only matters when trials overlap.
  void init_sampler(size_t n_existing_trials) {
    const uint32_t seed = study_seed();
    if (in_.job.sampler == config::SamplerKind::random) {
      random_sampler_.emplace(seed);
      for (size_t i = 0; i < n_existing_trials; ++i) random_sampler_->sample(in_.space);
      return;
    }
    study::TpeOptions options;
    options.n_startup_trials = in_.job.n_startup_trials;
    options.n_ei_candidates = kHereticEiCandidates;
    options.multivariate = true;
    options.constant_liar = pool_.n_workers() > 1 || in_.job.trials_per_worker > 1;
    tpe_sampler_.emplace(options, seed);
    tpe_sampler_->skip_trials(in_.space, static_cast<int64_t>(n_existing_trials));
    directions_ = in_.store.study_directions(in_.study_id);
  }

  // The next trial's parameters; TPE reads the COMPLETE and RUNNING trials
  // of the history (the new trial is not written yet).
  study::ParamValues propose() {
    if (random_sampler_) return random_sampler_->sample(in_.space);
    const std::vector<study::TpeTrial> history =
        study::tpe_history(history_, in_.space, {});
    return tpe_sampler_->sample(in_.space, history, directions_, /*trial_number=*/-1);
  }

  // The first time the loop sees a stop signal: no new trial from here on,
  // and the grace period starts.
  void notice_stop_signal() {
    if (stop_seen_at_ || !shutdown_requested()) return;
    stop_seen_at_ = Clock::now();
    fmt::print("\nStop signal {}: no new trials; waiting up to {} (grace_period) for the {} trial(s) in flight.\n",
               shutdown_signal(), format_duration(in_.job.grace_period), in_flight_.size());
  }

  bool grace_is_over() const {
    return stop_seen_at_ && Clock::now() >= *stop_seen_at_ + grace_period_;
  }

  // How long to wait for a reply before looking again: until the next
  // deadline (a worker's timeout, the grace period's end), and at most a
  // fifth of a second, so that a signal is noticed promptly.
  std::chrono::milliseconds time_to_next_check() const {
    Clock::time_point next = Clock::now() + std::chrono::milliseconds(200);
    for (const auto& [worker_idx, flight] : in_flight_) {
      next = std::min(next, flight.sent_at + worker_timeout_);
    }
    if (stop_seen_at_) next = std::min(next, *stop_seen_at_ + grace_period_);
    return std::max(std::chrono::milliseconds(0),
                    std::chrono::duration_cast<std::chrono::milliseconds>(next - Clock::now()));
  }

  // A worker silent past worker_timeout is taken as hung: its trial is
  // recorded FAIL (worker timeout), to run again first on resume, and no new
  // trial starts; the other workers' trials finish.
  void time_out_silent_workers() {
    const Clock::time_point now = Clock::now();
    for (auto it = in_flight_.begin(); it != in_flight_.end();) {
      const auto& [worker_idx, flight] = *it;
      if (now < flight.sent_at + worker_timeout_) {
        ++it;
        continue;
      }
      const std::string who = fmt::format("{} on {}", pool_.worker_name(worker_idx), pool_.worker_host(worker_idx));
      mark_failed(flight.trial.trial_id, std::string(study::kWorkerTimeoutReason));
      fmt::print("\nTrial {} failed: {} sent nothing for {} (worker_timeout)\n", display_index(flight.trial), who,
                 format_duration(in_.job.worker_timeout));
      hung_workers_.emplace(worker_idx, who);
      it = in_flight_.erase(it);
    }
  }

  // The grace period is over: the trials still in flight are recorded FAIL
  // (interrupted), so the next run runs them again first.
  RunOutcome give_up_in_flight() {
    for (const auto& [worker_idx, flight] : in_flight_) {
      mark_failed(flight.trial.trial_id, std::string(study::kInterruptedReason));
      fmt::print("Trial {} on {} did not finish within the grace period: recorded FAIL ({}), it runs again first "
                 "on resume.\n",
                 display_index(flight.trial), pool_.worker_name(worker_idx), study::kInterruptedReason);
    }
    in_flight_.clear();
    fmt::print("Stopped by signal {}; run the same command to resume.\n", shutdown_signal());
    return RunOutcome{.end = RunEnd::interrupted, .workers_abandoned = true};
  }

  void mark_failed(int64_t trial_id, const std::string& reason) {
    in_.store.fail_trial(trial_id, reason);
    history_[history_index_.at(trial_id)].state = study::TrialState::FAIL;
  }

  static int64_t display_index(const study::Trial& trial) {
    return trial.user_attrs.value(study::kIndexAttr, trial.number + 1);
  }

  // The in-flight trial `trial_id` of the worker, no longer in flight.
  study::Trial take_in_flight(int worker_idx, int64_t trial_id) {
    auto [first, last] = in_flight_.equal_range(worker_idx);
    const auto it = std::find_if(first, last, [&](const auto& entry) { return entry.second.trial.trial_id == trial_id; });
    ABL_CHECK(it != last, FormatError, "{} answered trial_id {}, which it was not running",
              pool_.worker_name(worker_idx), trial_id);
    study::Trial trial = std::move(it->second.trial);
    in_flight_.erase(it);
    return trial;
  }

  std::vector<study::Trial> take_all_in_flight(int worker_idx) {
    std::vector<study::Trial> trials;
    auto [first, last] = in_flight_.equal_range(worker_idx);
    for (auto it = first; it != last; ++it) trials.push_back(std::move(it->second.trial));
    in_flight_.erase(worker_idx);
    return trials;
  }

  // Sends an idle worker its next trials: trials_per_worker of them (fewer
  // near the end of the budget), each proposed with the ones before it
  // RUNNING (the constant liar). False when none is needed.
  bool dispatch(int worker_idx) {
    std::vector<TrialTask> tasks;
    while (static_cast<int64_t>(tasks.size()) < in_.job.trials_per_worker) {
      std::optional<TrialTask> task = start_trial(worker_idx);
      if (!task) break;
      tasks.push_back(std::move(*task));
    }
    if (tasks.empty()) return false;
    if (tasks.size() == 1) {
      pool_.send(worker_idx, to_message(tasks.front()));
    } else {
      pool_.send(worker_idx, to_message(TrialsTask{.trials = std::move(tasks)}));
    }
    return true;
  }

  // Proposes the next trial and writes it RUNNING, in flight on the worker; nullopt when none is needed.
  std::optional<TrialTask> start_trial(int worker_idx) {
    if (shutdown_requested() || !hung_workers_.empty()) return std::nullopt;
    if (n_complete_ + static_cast<int64_t>(in_flight_.size()) >= in_.n_trials) return std::nullopt;
    study::ParamValues values;
    nlohmann::json system_attrs = nlohmann::json::object();
    if (!requeued_.empty()) {
      values = std::move(requeued_.front());
      requeued_.pop_front();
      system_attrs = std::move(requeued_system_attrs_.front());
      requeued_system_attrs_.pop_front();
    } else {
      values = propose();
    }
    const config::AblationParams params = study::decode_params(in_.space, values);
    nlohmann::json attrs = study::ablation_user_attrs(params);
    const int64_t index = n_complete_ + static_cast<int64_t>(in_flight_.size()) + 1;
    attrs[study::kIndexAttr] = index;
    // Written RUNNING before it is sent: a crash from here on leaves a trace
    // that the next run turns into FAIL (interrupted) and re-enqueues.
    study::Trial trial = in_.store.create_running_trial(in_.study_id, distributions_, values, attrs, system_attrs);
    history_index_.emplace(trial.trial_id, history_.size());
    history_.push_back(trial);
    fmt::print("\nRunning trial {} of {} (store number {}, {})...\n", index, in_.n_trials, trial.number,
               pool_.worker_name(worker_idx));
    print_parameters(params);
    TrialTask task{.trial_id = trial.trial_id, .number = trial.number, .values = values};
    in_flight_.emplace(worker_idx, InFlight{std::move(trial), Clock::now()});
    return task;
  }

  // A failed trial is recorded FAIL with its error's kind and reason, and the
  // study goes on: a replacement trial takes its place in the budget. A run
  // stops only when its failures reach the budget: a broken model, not bad luck.
  void fail(int worker_idx, const study::Trial& trial, ErrorKind kind, const std::string& reason) {
    const std::string recorded = fmt::format("{} error: {}", to_string(kind), reason);
    mark_failed(trial.trial_id, recorded);
    ++n_failed_;
    fmt::print("\nTrial {} failed on {}: {}\n", display_index(trial),
               pool_.worker_name(worker_idx), recorded);
    const int64_t max_failures = std::max<int64_t>(3, in_.n_trials);
    ABL_CHECK(n_failed_ < max_failures, InputError,
              "{} trials failed in this run, the last on {}: {}; stopping (see `abliterate status {}`)", n_failed_,
              pool_.worker_name(worker_idx), recorded, in_.store.path().string());
  }

  void record_result(int worker_idx, const study::Trial& trial, const TrialResult& result) {
    ABL_CHECK(result.trial_id == trial.trial_id, FormatError, "{} answered trial_id {} for trial_id {}",
              pool_.worker_name(worker_idx), result.trial_id, trial.trial_id);
    // The worker's kl_divergence fails such a trial first; this guards the objective.
    if (!std::isfinite(result.kl_divergence)) {
      fail(worker_idx, trial, ErrorKind::numeric, fmt::format("KL divergence is not finite ({})", result.kl_divergence));
      return;
    }
    const double kl = result.kl_divergence;
    const int64_t refusals = result.refusals;
    const std::array<double, 2> values = study::objective_values(in_.job, kl, refusals, in_.refusals_baseline);
    const nlohmann::json attrs = {{study::kKlDivergenceAttr, kl},
                                  {study::kRefusalsAttr, refusals},
                                  {study::kBaseRefusalsAttr, in_.refusals_baseline},
                                  {study::kNBadPromptsAttr, in_.n_bad_evaluation_prompts}};
    in_.store.complete_trial(trial.trial_id, {values[0], values[1]}, attrs);
    study::Trial& remembered = history_[history_index_.at(trial.trial_id)];
    remembered.state = study::TrialState::COMPLETE;
    remembered.values = {values[0], values[1]};
    ++n_complete_;
    if (!result.texts.empty()) {
      fmt::print("\nResponses of trial {}:\n", display_index(trial));
      print_responses(in_.bad_evaluation, result.texts, in_.job.refusal_markers);
    }
    fmt::print("\nTrial {} finished on {} in {}:\n", display_index(trial),
               pool_.worker_name(worker_idx), format_duration(result.seconds));
    fmt::print("  * KL divergence: {:.4f}\n", kl);
    fmt::print("  * Refusals: {}/{}\n", refusals, in_.n_bad_evaluation_prompts);
    fmt::print("  * Peak memory of {}: {} (batch size {})\n", pool_.worker_name(worker_idx),
               format_bytes(result.peak_rss_bytes), result.batch_size);
    const double elapsed = std::chrono::duration<double>(Clock::now() - started_).count();
    fmt::print("Elapsed time: {}\n", format_duration(elapsed));
    const int64_t done_here = n_complete_ - n_complete_at_start_;
    if (n_complete_ < in_.n_trials && done_here > 0) {
      fmt::print("Estimated remaining time: {}\n",
                 format_duration(elapsed / static_cast<double>(done_here) * static_cast<double>(in_.n_trials - n_complete_)));
    }
  }

  const TrialLoopInputs& in_;
  mpi::WorkerPool& pool_;
  std::optional<study::RandomSampler> random_sampler_;  // job sampler: random
  std::optional<study::TpeSampler> tpe_sampler_;        // job sampler: tpe
  std::vector<study::Direction> directions_;
  std::deque<study::ParamValues> requeued_;
  std::deque<nlohmann::json> requeued_system_attrs_;
  std::vector<std::pair<std::string, study::Distribution>> distributions_;
  // The study's trials as the store holds them, kept in step with every
  // write of this run (the only writer: StoreRunLock), so that proposing a
  // trial does not read the whole store back (O(trials) per trial).
  std::vector<study::Trial> history_;
  std::map<int64_t, size_t> history_index_;  // trial_id -> position in history_
  struct InFlight {
    study::Trial trial;
    Clock::time_point sent_at;
  };
  std::multimap<int, InFlight> in_flight_;  // by worker index: trials_per_worker each at most
  std::optional<Clock::time_point> stop_seen_at_;
  const Clock::duration grace_period_ =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(in_.job.grace_period));
  const Clock::duration worker_timeout_ =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(in_.job.worker_timeout));
  std::map<int, std::string> hung_workers_;  // by worker index: "rank 2 on node7"
  int64_t n_complete_ = 0;
  int64_t n_complete_at_start_ = 0;
  int64_t n_failed_ = 0;
  Clock::time_point started_ = Clock::now();
};

}  // namespace

RunOutcome run_trial_loop(const TrialLoopInputs& inputs, mpi::WorkerPool& pool) {
  stop_between_trials();
  return TrialLoop(inputs, pool).run();
}

}  // namespace abliterate::runner
