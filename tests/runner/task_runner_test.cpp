#include "abliterate/runner/task_runner.hpp"

#include <deque>
#include <map>

#include <gtest/gtest.h>

#include "abliterate/common/error.hpp"
#include "abliterate/runner/protocol.hpp"
#include "support/throws_with.hpp"

namespace abliterate::runner {
namespace {

// Workers that answer `refusals` tasks with the number of prompts, replying in
// reverse order of sending to show that replies are put back in task order.
class ReversingPool : public mpi::WorkerPool {
 public:
  explicit ReversingPool(int n) : n_(n) {}
  int n_workers() const override { return n_; }
  void send(int worker_idx, const mpi::Message& m) override {
    EXPECT_FALSE(busy_[worker_idx]) << "two tasks in flight on worker " << worker_idx;
    busy_[worker_idx] = true;
    ++sent_;
    const RefusalsTask task = from_message<RefusalsTask>(m);
    if (task.response_prefix == "fail") {
      pending_.push_front(
          {worker_idx, to_message(Failure{.kind = ErrorKind::io, .reason = "out of memory", .trial_id = std::nullopt})});
      return;
    }
    const auto n = static_cast<int64_t>(task.prompts.size());
    pending_.push_front({worker_idx, to_message(RefusalsReply{.refusals = n, .n = n, .texts = {}})});
  }
  std::pair<int, mpi::Message> receive_any() override {
    auto reply = pending_.front();
    pending_.pop_front();
    busy_[reply.first] = false;
    return reply;
  }
  std::string worker_name(int worker_idx) const override { return "rank " + std::to_string(worker_idx + 1); }
  std::string worker_host(int) const override { return "test-host"; }
  int sent_ = 0;

 private:
  int n_;
  std::map<int, bool> busy_;
  std::deque<std::pair<int, mpi::Message>> pending_;
};

}  // namespace

TEST(TaskRunner, RepliesComeBackInTaskOrderWithOneTaskPerWorker) {
  ReversingPool pool(2);
  std::vector<mpi::Message> tasks;
  for (size_t n : {1, 2, 3, 4, 5}) {
    tasks.push_back(to_message(RefusalsTask{.prompts = std::vector<data::Prompt>(n), .response_prefix = "", .with_texts = false}));
  }
  const std::vector<mpi::Message> replies = run_tasks(pool, tasks, mpi::MessageType::refusal_count);
  ASSERT_EQ(replies.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(from_message<RefusalsReply>(replies[i]).refusals, static_cast<int64_t>(i + 1));
  }
  EXPECT_EQ(pool.sent_, 5);
}

TEST(TaskRunner, AFailureNamesTheWorkerAndReason) {
  ReversingPool pool(3);
  std::vector<mpi::Message> tasks = {
      to_message(RefusalsTask{.prompts = {data::Prompt{}}, .response_prefix = "", .with_texts = false}),
      to_message(RefusalsTask{.prompts = {data::Prompt{}}, .response_prefix = "fail", .with_texts = false})};
  // The failure is thrown again as its kind.
  ASSERT_THROWS_WITH(run_tasks(pool, tasks, mpi::MessageType::refusal_count), IoError, "rank 2 failed: out of memory");
}

TEST(TaskRunner, SplitEvenly) {
  using R = std::vector<std::pair<size_t, size_t>>;
  EXPECT_EQ(split_evenly(10, 3), (R{{0, 4}, {4, 7}, {7, 10}}));
  EXPECT_EQ(split_evenly(2, 4), (R{{0, 1}, {1, 2}}));
  EXPECT_TRUE(split_evenly(0, 4).empty());
}

}  // namespace abliterate::runner
