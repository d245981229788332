// The preparation phase detects the common response prefix first and sends
// it with every later task: baselines, refusal counts and residuals (method
// spec §3.4 step 5). Workers are faked: they answer from a script and record
// the prefix each task carried.
#include "abliterate/runner/preparation.hpp"

#include <unistd.h>

#include <deque>
#include <filesystem>
#include <fstream>
#include <map>

#include <gtest/gtest.h>

#include "abliterate/runner/protocol.hpp"

namespace abliterate::runner {
namespace {

class ScriptedPool : public mpi::WorkerPool {
 public:
  int n_workers() const override { return 1; }
  std::string worker_name(int) const override { return "rank 1"; }
  std::string worker_host(int) const override { return "test-host"; }

  void send(int worker_idx, const mpi::Message& task) override {
    switch (task.type) {
      case mpi::MessageType::responses: {
        const ResponsesTask t = from_message<ResponsesTask>(task);
        prefixes["responses"].push_back(t.response_prefix);
        const auto n_prompts = static_cast<int64_t>(t.prompts.size());
        n_probe_prompts.push_back(n_prompts);
        // A thinking model: every response opens a block; after the closed
        // block every response starts with a blank line.
        ResponsesReply reply;
        for (int64_t i = 0; i < n_prompts; ++i) {
          reply.texts.push_back(t.response_prefix.empty() ? "<think>\nStep " + std::to_string(i)
                                                          : "\n\n" + std::to_string(i) + " answer");
        }
        pending_.push_back({worker_idx, to_message(reply)});
        break;
      }
      case mpi::MessageType::logprobs: {
        const LogprobsTask t = from_message<LogprobsTask>(task);
        prefixes["logprobs"].push_back(t.response_prefix);
        const auto n_prompts = static_cast<int64_t>(t.prompts.size());
        pending_.push_back(
            {worker_idx, to_message(LogprobsReply{.logprobs = torch::log_softmax(torch::zeros({n_prompts, 3}), 1)})});
        break;
      }
      case mpi::MessageType::refusals: {
        const RefusalsTask t = from_message<RefusalsTask>(task);
        prefixes["refusals"].push_back(t.response_prefix);
        pending_.push_back(
            {worker_idx, to_message(RefusalsReply{.refusals = 1, .n = static_cast<int64_t>(t.prompts.size()), .texts = {}})});
        break;
      }
      case mpi::MessageType::residuals: {
        const ResidualsTask t = from_message<ResidualsTask>(task);
        prefixes["residuals"].push_back(t.response_prefix);
        const auto n_prompts = static_cast<int64_t>(t.prompts.size());
        const double shift = t.prompts.front().user.starts_with("bad") ? 1.0 : 0.0;
        torch::Tensor sums = torch::ones({2, 3}, torch::kFloat64) * static_cast<double>(n_prompts);
        sums.select(1, 0).add_(shift * static_cast<double>(n_prompts));
        pending_.push_back({worker_idx, to_message(ResidualSumsReply{.count = n_prompts, .sums = sums})});
        break;
      }
      default:
        ADD_FAILURE() << "unexpected task " << to_string(task.type);
    }
  }

  std::pair<int, mpi::Message> receive_any() override {
    auto reply = pending_.front();
    pending_.pop_front();
    return reply;
  }

  std::map<std::string, std::vector<std::string>> prefixes;  // task type -> prefix of each task
  std::vector<int64_t> n_probe_prompts;

 private:
  std::deque<std::pair<int, mpi::Message>> pending_;
};

std::vector<data::Prompt> prompts(const std::string& tag, int n) {
  std::vector<data::Prompt> out;
  for (int i = 0; i < n; ++i) out.push_back({"sys", tag + std::to_string(i)});
  return out;
}

class PreparationTest : public ::testing::Test {
 protected:
  PreparationTest() {
    cache_ = std::filesystem::temp_directory_path() /
             ("abl_preparation_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++) + ".h5");
    // Only fingerprinted, never loaded: the workers are fake.
    model_ = cache_;
    model_.replace_extension(".gguf");
    std::ofstream(model_, std::ios::binary) << "not a model";
    job_.model = model_.string();
    job_.cache = cache_;
    inputs_.good = prompts("good", 120);
    inputs_.bad = prompts("bad", 30);
    inputs_.good_evaluation = prompts("ge", 4);
    inputs_.bad_evaluation = prompts("be", 5);
  }
  ~PreparationTest() override {
    std::filesystem::remove(cache_);
    std::filesystem::remove(model_);
  }

  static inline int counter_ = 0;
  std::filesystem::path cache_;
  std::filesystem::path model_;
  config::Job job_;
  StudyInputs inputs_;
};

TEST_F(PreparationTest, DetectedPrefixGoesWithEveryLaterTask) {
  ScriptedPool pool;
  const PreparationResult result = prepare_study(job_, inputs_, pool);
  EXPECT_FALSE(result.from_cache);
  // <think> is closed by the skip, and the re-check adds the blank line.
  EXPECT_EQ(result.preparation.response_prefix, "<think></think>\n\n");
  // Probed on good[:100] + bad[:100], once bare and once after the closed block.
  EXPECT_EQ(pool.prefixes["responses"], (std::vector<std::string>{"", "<think></think>"}));
  EXPECT_EQ(pool.n_probe_prompts, (std::vector<int64_t>{130, 130}));
  for (const char* type : {"logprobs", "refusals", "residuals"}) {
    ASSERT_FALSE(pool.prefixes[type].empty()) << type;
    for (const std::string& prefix : pool.prefixes[type]) EXPECT_EQ(prefix, "<think></think>\n\n") << type;
  }
  EXPECT_EQ(result.preparation.refusals_baseline, 1);
}

TEST_F(PreparationTest, GivenPrefixSkipsDetection) {
  job_.response_prefix = "Sure,";
  ScriptedPool pool;
  const PreparationResult result = prepare_study(job_, inputs_, pool);
  EXPECT_EQ(result.preparation.response_prefix, "Sure,");
  EXPECT_TRUE(pool.prefixes["responses"].empty());
  for (const std::string& prefix : pool.prefixes["logprobs"]) EXPECT_EQ(prefix, "Sure,");
}

TEST_F(PreparationTest, NoSkipsKeepTheOpenBlock) {
  job_.chain_of_thought_skips.clear();
  ScriptedPool pool;
  EXPECT_EQ(prepare_study(job_, inputs_, pool).preparation.response_prefix, "<think>\nStep");
  EXPECT_EQ(pool.prefixes["responses"].size(), 1u);
}

}  // namespace
}  // namespace abliterate::runner
