// The trial loop against a fake worker pool and a real SQLite store: the
// dispatch order, the constant liar, requeued trials first, and the failure
// paths (a worker's failure reply, a non-finite KL, a worker gone silent, a
// failure budget used up).
#include "abliterate/runner/trial_loop.hpp"

#include <chrono>
#include <cmath>
#include <deque>
#include <limits>
#include <map>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "abliterate/common/error.hpp"
#include "abliterate/runner/protocol.hpp"
#include "abliterate/study/attribute_names.hpp"
#include "study/temp_dir.hpp"
#include "support/throws_with.hpp"

namespace abliterate::runner {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int64_t kLayers = 8;

// Workers that answer each trial at once, in the order sent, with a KL and a
// refusal count computed from its parameters, except for the store numbers
// they are told to fail, poison with a non-finite KL, or never answer. Each
// send() checks that the trial is already RUNNING in the store.
class ScriptedPool : public mpi::WorkerPool {
 public:
  ScriptedPool(int n_workers, study::SqliteStore& store) : n_workers_(n_workers), store_(store) {}

  int n_workers() const override { return n_workers_; }

  void send(int worker_idx, const mpi::Message& task) override {
    const std::vector<TrialTask> trials = task.type == mpi::MessageType::trials
                                              ? from_message<TrialsTask>(task).trials
                                              : std::vector<TrialTask>{from_message<TrialTask>(task)};
    EXPECT_FALSE(busy_.contains(worker_idx)) << "two tasks in flight on worker " << worker_idx;
    busy_.insert(worker_idx);
    TrialsReply outcomes;
    Clock::time_point ready_at = Clock::now();
    for (const TrialTask& trial : trials) {
      EXPECT_EQ(state_of(trial.trial_id), study::TrialState::RUNNING)
          << "trial " << trial.number << " was sent before it was written";
      sent_.push_back({trial.number, worker_idx, trial.values, static_cast<int>(busy_.size()), trials.size()});
      if (silent_.contains(trial.number)) return;
      if (const auto delay = delays_.find(trial.number); delay != delays_.end()) {
        ready_at = std::max(ready_at, Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                                         std::chrono::duration<double>(delay->second)));
      }
      if (failing_.contains(trial.number)) {
        outcomes.failures.push_back(
            Failure{.kind = ErrorKind::numeric, .reason = "logits are not finite", .trial_id = trial.trial_id});
        continue;
      }
      double kl = 0.0;
      for (double v : trial.values) kl += std::abs(v);
      kl = std::fmod(kl, 1.0);
      if (non_finite_kl_.contains(trial.number)) kl = std::numeric_limits<double>::quiet_NaN();
      outcomes.results.push_back(TrialResult{.trial_id = trial.trial_id,
                                             .kl_divergence = kl,
                                             .refusals = trial.number % 5,
                                             .seconds = 0.0,
                                             .texts = {}});
    }
    if (task.type == mpi::MessageType::trials) {
      pending_.push_back({ready_at, worker_idx, to_message(outcomes)});
    } else if (!outcomes.failures.empty()) {
      pending_.push_back({ready_at, worker_idx, to_message(outcomes.failures.front())});
    } else {
      pending_.push_back({ready_at, worker_idx, to_message(outcomes.results.front())});
    }
  }

  std::pair<int, mpi::Message> receive_any() override {
    auto reply = receive_any_for(std::chrono::hours(1));
    EXPECT_TRUE(reply.has_value());
    return std::move(*reply);
  }

  // The first reply whose time has come, in the order sent.
  std::optional<std::pair<int, mpi::Message>> receive_any_for(std::chrono::milliseconds timeout) override {
    const Clock::time_point now = Clock::now();
    for (auto it = pending_.begin(); it != pending_.end(); ++it) {
      if (it->ready_at > now) continue;
      std::pair<int, mpi::Message> reply{it->worker_idx, std::move(it->message)};
      pending_.erase(it);
      busy_.erase(reply.first);
      return reply;
    }
    std::this_thread::sleep_for(std::min(timeout, std::chrono::milliseconds(10)));
    return std::nullopt;
  }

  std::string worker_name(int worker_idx) const override { return "rank " + std::to_string(worker_idx + 1); }
  std::string worker_host(int worker_idx) const override { return "node" + std::to_string(worker_idx); }

  struct Sent {
    int64_t number;
    int worker_idx;
    std::vector<double> values;
    int n_in_flight;      // workers busy after this send
    size_t n_together;    // trials in the same task
  };
  std::vector<Sent> sent_;
  std::set<int64_t> failing_;
  std::set<int64_t> non_finite_kl_;
  std::set<int64_t> silent_;             // never answered
  std::map<int64_t, double> delays_;     // answered after this many seconds

 private:
  study::TrialState state_of(int64_t trial_id) const {
    for (const study::Trial& t : store_.load_trials(1)) {
      if (t.trial_id == trial_id) return t.state;
    }
    ADD_FAILURE() << "trial_id " << trial_id << " is not in the store";
    return study::TrialState::FAIL;
  }

  int n_workers_;
  study::SqliteStore& store_;
  std::set<int> busy_;
  struct Pending {
    Clock::time_point ready_at;
    int worker_idx;
    mpi::Message message;
  };
  std::deque<Pending> pending_;
};

class TrialLoopTest : public ::testing::Test {
 protected:
  TrialLoopTest() : store_(study::SqliteStore::open(dir_ / "study.db")) {
    study_id_ = store_->create_study("loop", {study::Direction::MINIMIZE, study::Direction::MINIMIZE},
                                     json{{"finished", false}});
    job_.n_trials = 8;
    job_.n_startup_trials = 3;
    job_.seed = 11;
  }

  RunOutcome run(ScriptedPool& pool, std::vector<study::ParamValues> requeued = {},
                 std::vector<json> requeued_attrs = {}) {
    return run_trial_loop(TrialLoopInputs{.job = job_,
                                          .store = *store_,
                                          .study_id = study_id_,
                                          .space = study::heretic_search_space(kLayers),
                                          .refusals_baseline = 5,
                                          .n_bad_evaluation_prompts = 6,
                                          .n_trials = job_.n_trials,
                                          .requeued = std::move(requeued),
                                          .requeued_system_attrs = std::move(requeued_attrs),
                                          .bad_evaluation = {}},
                          pool);
  }

  std::map<int64_t, study::Trial> trials_by_number() const {
    std::map<int64_t, study::Trial> out;
    for (study::Trial& t : store_->load_trials(study_id_)) out.emplace(t.number, std::move(t));
    return out;
  }

  std::string fail_reason(int64_t number) const {
    return trials_by_number().at(number).user_attrs.value(std::string(study::kFailReasonAttr), std::string());
  }

  study::testing::TempDir dir_;
  std::unique_ptr<study::SqliteStore> store_;
  int64_t study_id_ = 0;
  config::Job job_;
};

TEST_F(TrialLoopTest, FillsEveryWorkerAndRunsTheBudgetInStoreOrder) {
  ScriptedPool pool(3, *store_);
  const RunOutcome outcome = run(pool);
  EXPECT_EQ(outcome.end, RunEnd::finished);
  EXPECT_FALSE(outcome.workers_abandoned);
  ASSERT_EQ(pool.sent_.size(), 8u);
  // One trial per worker to start, then each reply frees its worker for the next.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(pool.sent_[static_cast<size_t>(i)].worker_idx, i);
  EXPECT_EQ(pool.sent_[2].n_in_flight, 3);
  const auto trials = trials_by_number();
  ASSERT_EQ(trials.size(), 8u);
  int64_t expected_number = 0;
  for (const auto& [number, trial] : trials) {
    EXPECT_EQ(number, expected_number++);
    EXPECT_EQ(trial.state, study::TrialState::COMPLETE);
    EXPECT_EQ(trial.user_attrs.at(std::string(study::kIndexAttr)).get<int64_t>(), number + 1);
    EXPECT_EQ(trial.user_attrs.at(std::string(study::kRefusalsAttr)).get<int64_t>(), number % 5);
  }
}

TEST_F(TrialLoopTest, ConcurrentTrialsAfterTheStartupSeeEachOtherThroughTheConstantLiar) {
  // With three trials in flight, TPE proposes each new trial with the RUNNING
  // ones in its history (their objectives lied as the worst), so no two
  // trials in flight are the same point.
  ScriptedPool pool(3, *store_);
  run(pool);
  std::set<std::vector<double>> distinct;
  for (const ScriptedPool::Sent& sent : pool.sent_) distinct.insert(sent.values);
  EXPECT_EQ(distinct.size(), pool.sent_.size());
}

TEST_F(TrialLoopTest, EachWorkerTakesTrialsPerWorkerTrialsTogether) {
  // trials_per_worker 3 on 2 workers, 8 trials: tasks of 3, 3, then what the
  // budget leaves; each trial proposed with those in flight RUNNING (the
  // constant liar), so none repeats another; a failure in a task fails only
  // its trial, and a replacement runs.
  job_.trials_per_worker = 3;
  ScriptedPool pool(2, *store_);
  pool.failing_ = {4};
  const RunOutcome outcome = run(pool);
  EXPECT_EQ(outcome.end, RunEnd::finished);
  ASSERT_EQ(pool.sent_.size(), 9u);  // 8 COMPLETE and the failed one
  EXPECT_EQ(pool.sent_[0].n_together, 3u);
  EXPECT_EQ(pool.sent_[2].worker_idx, 0);
  EXPECT_EQ(pool.sent_[3].worker_idx, 1);
  EXPECT_EQ(pool.sent_[3].n_together, 3u);
  EXPECT_EQ(pool.sent_[6].n_together, 2u);  // 6 in flight or done: the budget leaves 2
  EXPECT_EQ(pool.sent_[8].n_together, 1u);  // the replacement of the failed trial
  std::set<std::vector<double>> distinct;
  for (const ScriptedPool::Sent& sent : pool.sent_) distinct.insert(sent.values);
  EXPECT_EQ(distinct.size(), pool.sent_.size());
  const auto trials = trials_by_number();
  int64_t n_complete = 0;
  for (const auto& [number, trial] : trials) {
    EXPECT_EQ(trial.state, number == 4 ? study::TrialState::FAIL : study::TrialState::COMPLETE) << number;
    n_complete += trial.state == study::TrialState::COMPLETE ? 1 : 0;
  }
  EXPECT_EQ(n_complete, 8);
  EXPECT_EQ(fail_reason(4), "numeric error: logits are not finite");
}

TEST_F(TrialLoopTest, RequeuedTrialsRunFirstWithTheirRetryAttrs) {
  const std::vector<study::ParamSpec> space = study::heretic_search_space(kLayers);
  const study::ParamValues retried = {0, 3.5, 1.0, 5.0, 0.5, 2.0, 0.8, 4.0, 0.3, 3.0};
  ScriptedPool pool(2, *store_);
  run(pool, {retried}, {json{{std::string(study::kFailedTrialAttr), 41}, {std::string(study::kRetryHistoryAttr), {41}}}});
  ASSERT_FALSE(pool.sent_.empty());
  EXPECT_EQ(pool.sent_.front().values, retried);
  const study::Trial first = trials_by_number().at(0);
  EXPECT_EQ(first.system_attrs.at(std::string(study::kFailedTrialAttr)).get<int64_t>(), 41);
  EXPECT_EQ(first.system_attrs.at(std::string(study::kRetryHistoryAttr)), json::array({41}));
}

TEST_F(TrialLoopTest, AFailedTrialIsRecordedWithItsKindAndAReplacementRuns) {
  ScriptedPool pool(2, *store_);
  pool.failing_ = {1};
  pool.non_finite_kl_ = {4};
  EXPECT_EQ(run(pool).end, RunEnd::finished);
  const auto trials = trials_by_number();
  ASSERT_EQ(trials.size(), 10u);  // the budget of 8 COMPLETE plus the two failures
  EXPECT_EQ(trials.at(1).state, study::TrialState::FAIL);
  EXPECT_EQ(fail_reason(1), "numeric error: logits are not finite");
  EXPECT_EQ(trials.at(4).state, study::TrialState::FAIL);
  EXPECT_EQ(fail_reason(4), "numeric error: KL divergence is not finite (nan)");
  int64_t n_complete = 0;
  for (const auto& [number, trial] : trials) n_complete += trial.state == study::TrialState::COMPLETE ? 1 : 0;
  EXPECT_EQ(n_complete, 8);
}

TEST_F(TrialLoopTest, FailuresUpToTheBudgetStopTheRun) {
  job_.n_trials = 3;
  ScriptedPool pool(1, *store_);
  pool.failing_ = {0, 1, 2, 3, 4};
  ASSERT_THROWS_WITH(run(pool), InputError, "3 trials failed in this run, the last on rank 1");
}

TEST_F(TrialLoopTest, ASilentWorkerTimesOutItsTrialAndTheOthersFinish) {
  job_.worker_timeout = 0.3;
  ScriptedPool pool(2, *store_);
  pool.silent_ = {2};
  const auto started = std::chrono::steady_clock::now();
  const RunOutcome outcome = run(pool);
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(300));
  EXPECT_EQ(outcome.end, RunEnd::worker_timed_out);
  EXPECT_TRUE(outcome.workers_abandoned);
  const auto trials = trials_by_number();
  EXPECT_EQ(trials.at(2).state, study::TrialState::FAIL);
  EXPECT_EQ(fail_reason(2), study::kWorkerTimeoutReason);
  // The other worker ran the rest of the budget; no replacement starts after
  // the timeout, and no trial is left RUNNING.
  ASSERT_EQ(trials.size(), 8u);
  for (const auto& [number, trial] : trials) {
    EXPECT_EQ(trial.state, number == 2 ? study::TrialState::FAIL : study::TrialState::COMPLETE) << number;
  }
}

TEST_F(TrialLoopTest, ALateReplyFromATimedOutWorkerIsIgnored) {
  // Worker 0 gets trial 2 at 0 s and answers at 1.2 s, past its 1 s timeout;
  // worker 1 gets trial 3 at 0.6 s (after trial 1) and answers at 1.4 s, so
  // the late answer arrives while the run still waits. It must not complete
  // the trial already recorded FAIL, nor end the run in an error.
  job_.worker_timeout = 1.0;
  ScriptedPool pool(2, *store_);
  pool.delays_ = {{1, 0.6}, {2, 1.2}, {3, 0.8}};
  const RunOutcome outcome = run(pool);
  EXPECT_EQ(outcome.end, RunEnd::worker_timed_out);
  const auto trials = trials_by_number();
  ASSERT_EQ(trials.size(), 4u);  // no trial starts after the timeout
  EXPECT_EQ(trials.at(2).state, study::TrialState::FAIL);
  EXPECT_EQ(fail_reason(2), study::kWorkerTimeoutReason);
  EXPECT_EQ(trials.at(3).state, study::TrialState::COMPLETE);
}

}  // namespace
}  // namespace abliterate::runner
