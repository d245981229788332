// The typed protocol: every message survives encode -> bytes -> decode with
// its fields (a NaN KL included, which JSON could not carry), a malformed or
// mistyped message is refused naming its type, and a worker's failure is
// thrown again on rank 0 as its kind.
#include "abliterate/runner/protocol.hpp"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "abliterate/common/error.hpp"
#include "support/throws_with.hpp"

namespace abliterate::runner {
namespace {

// Through the wire bytes, as between two ranks.
template <typename Body>
Body round_trip(const Body& body) {
  const std::vector<uint8_t> bytes = mpi::encode_message(to_message(body));
  return from_message<Body>(mpi::decode_message(bytes.data(), bytes.size()));
}

TEST(Protocol, TasksRoundTrip) {
  const TrialTask trial = round_trip(TrialTask{.trial_id = 41, .number = 7, .values = {0.5, -1.25, 3.0}});
  EXPECT_EQ(trial.trial_id, 41);
  EXPECT_EQ(trial.number, 7);
  EXPECT_EQ(trial.values, (std::vector<double>{0.5, -1.25, 3.0}));

  const std::vector<data::Prompt> prompts = {{"You are helpful.", "Hi"}, {"", "ünïcode \n\"quoted\""}};
  const RefusalsTask refusals =
      round_trip(RefusalsTask{.prompts = prompts, .response_prefix = "<think></think>", .with_texts = true});
  EXPECT_EQ(refusals.prompts, prompts);
  EXPECT_EQ(refusals.response_prefix, "<think></think>");
  EXPECT_TRUE(refusals.with_texts);

  torch::manual_seed(5);
  const ContextTask context = round_trip(ContextTask{.good_evaluation = prompts,
                                                     .bad_evaluation = {prompts[1]},
                                                     .response_prefix = "",
                                                     .directions = torch::randn({3, 4}),
                                                     .baseline_logprobs = torch::randn({2, 9})});
  EXPECT_EQ(context.bad_evaluation.size(), 1u);
  EXPECT_EQ(context.directions.sizes(), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(context.baseline_logprobs.sizes(), (std::vector<int64_t>{2, 9}));

  config::Job job;
  job.model = "models/tiny";
  job.source_path = "/jobs/x.yaml";
  job.n_trials = 17;
  job.worker_timeout = 12.5;
  const SetupTask setup = round_trip(SetupTask{.job = job, .batch_size_prompts = prompts});
  EXPECT_EQ(setup.job, job);
  EXPECT_EQ(setup.batch_size_prompts, prompts);
}

TEST(Protocol, RepliesRoundTripANonFiniteKlIncluded) {
  const TrialResult result = round_trip(TrialResult{.trial_id = 3,
                                                    .kl_divergence = std::numeric_limits<double>::quiet_NaN(),
                                                    .refusals = 12,
                                                    .seconds = 1.5,
                                                    .texts = {"I can't", "Sure"}});
  EXPECT_TRUE(std::isnan(result.kl_divergence));
  EXPECT_EQ(result.refusals, 12);
  EXPECT_EQ(result.texts, (std::vector<std::string>{"I can't", "Sure"}));

  const Ready ready = round_trip(Ready{.n_layers = 30,
                                      .hidden_size = 576,
                                      .vocab_size = 49152,
                                      .device = "cpu",
                                      .threads = 2,
                                      .batch_size = 16,
                                      .batch_size_trials = {{.batch_size = 8, .tokens_per_second = 410.5, .error = ""},
                                                            {.batch_size = 16, .tokens_per_second = std::nullopt,
                                                             .error = "out of memory"}}});
  EXPECT_EQ(ready.n_layers, 30);
  ASSERT_EQ(ready.batch_size_trials.size(), 2u);
  EXPECT_EQ(ready.batch_size_trials[0].tokens_per_second, 410.5);
  EXPECT_FALSE(ready.batch_size_trials[1].tokens_per_second.has_value());
  EXPECT_EQ(ready.batch_size_trials[1].error, "out of memory");
}

// trials_per_worker: k trials out, one outcome each back, failures naming their trial.
TEST(Protocol, SeveralTrialsRoundTrip) {
  const TrialsTask task = round_trip(TrialsTask{.trials = {TrialTask{.trial_id = 4, .number = 3, .values = {0.5}},
                                                           TrialTask{.trial_id = 5, .number = 4, .values = {1.5, 2.5}}}});
  ASSERT_EQ(task.trials.size(), 2u);
  EXPECT_EQ(task.trials[1].trial_id, 5);
  EXPECT_EQ(task.trials[1].values, (std::vector<double>{1.5, 2.5}));

  const TrialsReply reply = round_trip(TrialsReply{
      .results = {TrialResult{
          .trial_id = 4, .kl_divergence = 0.25, .refusals = 7, .seconds = 1.5, .texts = {}, .peak_rss_bytes = 0, .batch_size = 8}},
      .failures = {Failure{.kind = ErrorKind::numeric, .reason = "NaN logits", .trial_id = 5}}});
  ASSERT_EQ(reply.results.size(), 1u);
  EXPECT_EQ(reply.results[0].refusals, 7);
  EXPECT_EQ(reply.results[0].kl_divergence, 0.25);
  ASSERT_EQ(reply.failures.size(), 1u);
  EXPECT_EQ(reply.failures[0].kind, ErrorKind::numeric);
  EXPECT_EQ(reply.failures[0].reason, "NaN logits");
  EXPECT_EQ(reply.failures[0].trial_id, std::optional<int64_t>(5));
}

TEST(Protocol, MistypedOrMalformedMessagesAreRefused) {
  const mpi::Message trial = to_message(TrialTask{.trial_id = 1, .number = 0, .values = {1.0}});
  ASSERT_THROWS_WITH(from_message<RefusalsTask>(trial), FormatError, "expected a refusals message, got trial");
  mpi::Message truncated = trial;
  truncated.payload.resize(truncated.payload.size() - 3);
  ASSERT_THROWS_WITH(from_message<TrialTask>(truncated), FormatError, "trial message: truncated");
  mpi::Message huge_length = trial;
  huge_length.payload[16] = 0xff;  // the values' count
  ASSERT_THROWS_WITH(from_message<TrialTask>(huge_length), FormatError, "trial message: a length of");
  mpi::Message trailing = trial;
  trailing.payload.push_back(0);
  ASSERT_THROWS_WITH(from_message<TrialTask>(trailing), FormatError, "trailing bytes");
  mpi::Message no_tensors = to_message(ContextTask{});
  no_tensors.tensors.clear();
  ASSERT_THROWS_WITH(from_message<ContextTask>(no_tensors), FormatError, "fewer tensors");
}

// A worker's error crosses the wire as its kind: rank 0 throws the same type.
TEST(Protocol, AFailureIsThrownAgainAsItsKind) {
  const Failure failure =
      round_trip(Failure{.kind = ErrorKind::numeric, .reason = "prompt 0: logits are not finite", .trial_id = 7});
  EXPECT_EQ(failure.kind, ErrorKind::numeric);
  EXPECT_EQ(failure.trial_id, 7);
  ASSERT_THROWS_WITH(rethrow_failure(failure, "rank 2 failed"), NumericError,
                     "rank 2 failed: prompt 0: logits are not finite");
  const Failure input = round_trip(Failure{.kind = ErrorKind::input, .reason = "no 'text'", .trial_id = std::nullopt});
  EXPECT_FALSE(input.trial_id.has_value());
  ASSERT_THROWS_WITH(rethrow_failure(input, "rank 1"), InputError, "rank 1: no 'text'");
  // A kind this build does not know is internal.
  mpi::WireWriter writer;
  writer(std::string("cosmic"), std::string("x"), std::optional<int64_t>());
  const mpi::Message unknown{mpi::MessageType::failure, writer.take_bytes(), {}};
  EXPECT_EQ(from_message<Failure>(unknown).kind, ErrorKind::internal);
}

}  // namespace
}  // namespace abliterate::runner
