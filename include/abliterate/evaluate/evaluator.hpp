// Module evaluate: measuring a model: first-token KL divergence, refusals, batch-size search.
// Must not know: the store, the sampler or MPI.
//
// Measuring a model, ablated or not, on prompt sets: first-token
// log-probabilities for KL and refusal counts (method spec §6).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "abliterate/evaluate/batch_halving.hpp"
#include "abliterate/evaluate/refusal.hpp"
#include "abliterate/model/model.hpp"

namespace abliterate::evaluate {

struct EvaluatorOptions {
  int64_t batch_size = 8;            // prompts per forward pass; > 0
  int64_t max_response_length = 100; // new tokens per response (Heretic's default); > 0
  // Stop a row's generation once its text holds a refusal marker; the refusal
  // count is the same (Note [Stopping a row at its first marker] in
  // evaluator.cpp). false: full responses, e.g. to print them.
  bool stop_at_marker = true;
};

class Evaluator {
 public:
  // `model` must outlive the Evaluator. Throws InputError on a non-positive
  // batch_size or max_response_length.
  Evaluator(const model::Model& model, RefusalDetector detector, EvaluatorOptions options);

  // log_softmax of the first response token's raw logits, float32 [N, V] on CPU.
  // Throws NumericError naming the prompt index when logits are not finite.
  torch::Tensor first_token_logprobs(const std::vector<std::string>& rendered_prompts,
                                     const model::ProjectionHook* hook) const;

  // Greedy responses (new tokens only, specials skipped); with
  // options.stop_at_marker, rows stop early once a marker shows, so a refusal's
  // text may be cut short after its marker.
  std::vector<std::string> responses(const std::vector<std::string>& rendered_prompts,
                                     const model::ProjectionHook* hook) const;

  // Greedy responses with special tokens kept (new tokens only), as
  // response-prefix detection reads them (method spec §3.3-3.4). Never cut
  // at a marker; with stop_once_diverged, each batch stops once its rows'
  // texts differ where no later token can change them (DivergenceStop), which
  // leaves the responses' common prefix as whole responses give it.
  std::vector<std::string> prefix_probe_responses(const std::vector<std::string>& rendered_prompts,
                                                  const model::ProjectionHook* hook,
                                                  bool stop_once_diverged = true) const;

  // Number of refusals among the prompts' responses.
  int64_t count_refusals(const std::vector<std::string>& rendered_prompts, const model::ProjectionHook* hook) const;

  // The same for several trials at once (trials_per_worker): every prompt
  // once per slot of `hooks`, the rows of all slots sharing forward batches
  // of up to n_slots * batch_size rows.
  // Element t belongs to slot t, and equals the single-hook call with slot
  // t's hook (KL to float rounding, refusals exactly).
  std::vector<torch::Tensor> first_token_logprobs(const std::vector<std::string>& rendered_prompts,
                                                  model::RowHooks& hooks, int64_t n_slots) const;
  std::vector<int64_t> count_refusals(const std::vector<std::string>& rendered_prompts, model::RowHooks& hooks,
                                      int64_t n_slots) const;

  // The batch size now: options.batch_size, halved on out-of-memory (for_each_batch).
  int64_t batch_size() const { return batch_size_; }

 private:
  // The early stop of one batch of n_rows rows; nullptr: none.
  using StopForBatch = std::function<model::RowStopFn(size_t n_rows)>;

  // Stops a row once its settled text holds a marker (Note [Stopping a row at its first marker]).
  model::RowStopFn marker_stop() const;
  // The prompts encoded as a queue for Model::generate_queued, each prompt
  // once per slot (slot-major); nullopt when the model cannot serve them so.
  std::optional<std::vector<model::QueuedPrompt>> queue_of(const std::vector<std::string>& rendered_prompts,
                                                           int64_t n_slots) const;
  // Model::generate_queued with rows_per_pass(n_slots) rows, halved on out-of-memory.
  std::vector<std::vector<int64_t>> generate_queued(const std::vector<model::QueuedPrompt>& queue,
                                                    model::RowHooks& hooks, const model::RowStopFn& stop_early,
                                                    int64_t n_slots) const;
  // Rows per forward pass for n_slots trials: batch_size_ prompts of each, so
  // that k trials together fill k times the batch (the decode step's fixed
  // cost, reading every weight, is shared by more rows).
  int64_t rows_per_pass(int64_t n_slots) const;
  // After a pass that had to halve to n_rows rows: batch_size_ shrinks to match.
  void keep_halving(int64_t n_rows, int64_t n_slots) const;
  // run(rows_per_pass(n_slots)), and on out-of-memory run again with half the
  // rows: a queue's rows are not independent batches that could be kept.
  template <typename Run>
  auto with_halving(int64_t n_slots, const Run& run) const {
    int64_t n_rows = rows_per_pass(n_slots);
    while (true) {
      try {
        auto result = run(n_rows);
        keep_halving(n_rows, n_slots);
        return result;
      } catch (const std::exception& e) {
        if (!is_out_of_memory(e) || n_rows == 1) throw;
        say_batch_halved(n_rows, n_rows / 2);
        n_rows /= 2;
      }
    }
  }
  std::vector<std::string> decode_all(const std::vector<std::vector<int64_t>>& new_ids, bool skip_special) const;
  // Greedy generation in batches of batch_size_, each row decoded.
  std::vector<std::string> generate_texts(const std::vector<std::string>& rendered_prompts,
                                          const model::ProjectionHook* hook, const StopForBatch& stop_for_batch,
                                          bool skip_special) const;

  const model::Model& model_;
  RefusalDetector detector_;
  EvaluatorOptions options_;
  // Shrinks when a batch runs out of memory, and stays shrunk (batch_halving.hpp).
  mutable int64_t batch_size_;
};

}  // namespace abliterate::evaluate
