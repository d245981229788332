// First-token log-probabilities and refusal counts of a model, ablated or not
// (method spec §6.1-6.2).
#include "abliterate/evaluate/evaluator.hpp"

#include <algorithm>
#include <optional>

#include <fmt/format.h>

#include "abliterate/common/error.hpp"
#include "abliterate/evaluate/batch_halving.hpp"
#include "abliterate/evaluate/divergence_stop.hpp"

namespace abliterate::evaluate {
namespace {

// The consecutive slice [begin, end) of the prompts (method spec §3.2: batches in order).
std::vector<std::string> batch_slice(const std::vector<std::string>& prompts, size_t begin, size_t end) {
  return {prompts.begin() + static_cast<std::ptrdiff_t>(begin), prompts.begin() + static_cast<std::ptrdiff_t>(end)};
}


}  // namespace

Evaluator::Evaluator(const model::Model& model, RefusalDetector detector, EvaluatorOptions options)
    : model_(model), detector_(std::move(detector)), options_(options), batch_size_(options.batch_size) {
  ABL_CHECK(options_.batch_size > 0, InputError, "batch_size: expected a positive number, got {}",
            options_.batch_size);
  ABL_CHECK(options_.max_response_length > 0, InputError, "max_response_length: expected a positive number, got {}",
            options_.max_response_length);
}

torch::Tensor Evaluator::first_token_logprobs(const std::vector<std::string>& rendered_prompts,
                                              const model::ProjectionHook* hook) const {
  model::OneHookForAllRows hooks(hook);
  return first_token_logprobs(rendered_prompts, hooks, /*n_slots=*/1).front();
}

std::vector<torch::Tensor> Evaluator::first_token_logprobs(const std::vector<std::string>& rendered_prompts,
                                                           model::RowHooks& hooks, int64_t n_slots) const {
  torch::NoGradGuard no_grad;  // not InferenceMode: the baseline is an ordinary tensor callers may keep
  const size_t n_prompts = rendered_prompts.size();
  // Raw logits, not Heretic 1.2's processed scores: v1.4 switched to raw
  // logits because processors' -inf entries made KL NaN (method spec §6.1).
  // Rows are slot-major: row i is prompt i % N of slot i / N.
  torch::Tensor logits;  // float32 [n_slots * N, V] on CPU
  if (const std::optional<std::vector<model::QueuedPrompt>> queue = queue_of(rendered_prompts, n_slots)) {
    logits = with_halving(n_slots, [&](int64_t n_rows) { return model_.prefill_queued(*queue, n_rows, hooks); })
                 .to(torch::kCPU, torch::kFloat32);
  } else {
    std::vector<torch::Tensor> batches;
    const auto process = [&](size_t begin, size_t end) {
      std::vector<std::string> texts;
      std::vector<int64_t> slots;
      for (size_t row = begin; row < end; ++row) {
        texts.push_back(rendered_prompts[row % n_prompts]);
        slots.push_back(static_cast<int64_t>(row / n_prompts));
      }
      const model::PromptBatch batch = model_.tokenize(texts);
      batches.push_back(model_.prefill(batch, hooks.for_rows(slots), /*capture_hidden=*/false)
                            .logits.to(torch::kCPU, torch::kFloat32));  // [B, V]
    };
    int64_t n_rows = rows_per_pass(n_slots);
    for_each_batch(n_prompts * static_cast<size_t>(n_slots), n_rows, process, say_batch_halved);
    keep_halving(n_rows, n_slots);
    logits = batches.empty() ? torch::empty({0, model_.config().vocab_size}, torch::kFloat32) : torch::cat(batches, 0);
  }
  const torch::Tensor row_is_finite = torch::isfinite(logits).all(1);  // bool [n_slots * N]
  if (!row_is_finite.all().item<bool>()) {
    const int64_t bad_row = torch::argmin(row_is_finite.to(torch::kInt)).item<int64_t>();
    throw NumericError(fmt::format("prompt {}: first-token logits are not finite (NaN or inf)",
                                   static_cast<size_t>(bad_row) % n_prompts));
  }
  const torch::Tensor logprobs = torch::log_softmax(logits, 1);
  std::vector<torch::Tensor> per_slot;
  for (int64_t slot = 0; slot < n_slots; ++slot) {
    per_slot.push_back(logprobs.narrow(0, slot * static_cast<int64_t>(n_prompts), static_cast<int64_t>(n_prompts)));
  }
  return per_slot;
}

std::vector<std::string> Evaluator::responses(const std::vector<std::string>& rendered_prompts,
                                              const model::ProjectionHook* hook) const {
  c10::InferenceMode guard;
  const model::RowStopFn stop_at_marker = options_.stop_at_marker ? marker_stop() : nullptr;
  if (const std::optional<std::vector<model::QueuedPrompt>> queue = queue_of(rendered_prompts, /*n_slots=*/1)) {
    model::OneHookForAllRows hooks(hook);
    return decode_all(generate_queued(*queue, hooks, stop_at_marker, /*n_slots=*/1), /*skip_special=*/true);
  }
  StopForBatch stop_for_batch;
  if (stop_at_marker) stop_for_batch = [&](size_t /*n_rows*/) { return stop_at_marker; };
  return generate_texts(rendered_prompts, hook, stop_for_batch, /*skip_special=*/true);
}

model::RowStopFn Evaluator::marker_stop() const {
  // Note [Stopping a row at its first marker]
  // A row may stop as soon as its settled text (Tokenizer::settled_length:
  // the ids whose text no later id can change) holds a marker: later tokens
  // only append text, so the marker stays a substring of the normalized full
  // response (normalization lowercases, deletes '*' and collapses whitespace
  // position by position; a word cut at the end of the partial text only
  // grows). The refusal count therefore equals full generation's. The text of
  // a trailing run of byte pieces is not settled: byte fallback decodes a run
  // as one, so a later byte can turn the whole run into U+FFFD.
  return [this](int64_t /*row_idx*/, const std::vector<int64_t>& new_ids) {
    const tokenizer::Tokenizer& tokenizer = model_.tokenizer();
    const auto settled_end = new_ids.begin() + static_cast<std::ptrdiff_t>(tokenizer.settled_length(new_ids));
    return detector_.contains_marker(tokenizer.decode({new_ids.begin(), settled_end}, /*skip_special=*/true));
  };
}

std::optional<std::vector<model::QueuedPrompt>> Evaluator::queue_of(const std::vector<std::string>& rendered_prompts,
                                                                    int64_t n_slots) const {
  std::vector<std::vector<int64_t>> ids;
  ids.reserve(rendered_prompts.size());
  int64_t longest_prompt = 0;
  for (size_t prompt_idx = 0; prompt_idx < rendered_prompts.size(); ++prompt_idx) {
    ids.push_back(model_.encode(rendered_prompts[prompt_idx]));
    ABL_CHECK(!ids.back().empty(), InputError, "prompt {} encodes to no tokens", prompt_idx);
    longest_prompt = std::max(longest_prompt, static_cast<int64_t>(ids.back().size()));
  }
  if (!model_.can_generate_queued(longest_prompt, options_.max_response_length)) return std::nullopt;
  std::vector<model::QueuedPrompt> queue;
  queue.reserve(ids.size() * static_cast<size_t>(n_slots));
  for (int64_t slot = 0; slot < n_slots; ++slot) {
    for (const std::vector<int64_t>& prompt_ids : ids) queue.push_back({prompt_ids, slot});
  }
  return queue;
}

std::vector<std::vector<int64_t>> Evaluator::generate_queued(const std::vector<model::QueuedPrompt>& queue,
                                                             model::RowHooks& hooks,
                                                             const model::RowStopFn& stop_early,
                                                             int64_t n_slots) const {
  return with_halving(n_slots, [&](int64_t n_rows) {
    return model_.generate_queued(queue, n_rows, options_.max_response_length, hooks, stop_early);
  });
}

int64_t Evaluator::rows_per_pass(int64_t n_slots) const { return batch_size_ * n_slots; }

void Evaluator::keep_halving(int64_t n_rows, int64_t n_slots) const {
  batch_size_ = std::max<int64_t>(1, std::min(batch_size_, n_rows / n_slots));
}

std::vector<std::string> Evaluator::decode_all(const std::vector<std::vector<int64_t>>& new_ids,
                                               bool skip_special) const {
  std::vector<std::string> texts;
  texts.reserve(new_ids.size());
  for (const std::vector<int64_t>& ids : new_ids) texts.push_back(model_.tokenizer().decode(ids, skip_special));
  return texts;
}

std::vector<std::string> Evaluator::prefix_probe_responses(const std::vector<std::string>& rendered_prompts,
                                                           const model::ProjectionHook* hook,
                                                           bool stop_once_diverged) const {
  c10::InferenceMode guard;
  StopForBatch stop_once_rows_diverge;
  if (stop_once_diverged) {
    stop_once_rows_diverge = [&](size_t n_rows) -> model::RowStopFn {
      return DivergenceStop(model_.tokenizer(), n_rows);
    };
  }
  return generate_texts(rendered_prompts, hook, stop_once_rows_diverge, /*skip_special=*/false);
}

std::vector<std::string> Evaluator::generate_texts(const std::vector<std::string>& rendered_prompts,
                                                   const model::ProjectionHook* hook,
                                                   const StopForBatch& stop_for_batch, bool skip_special) const {
  const tokenizer::Tokenizer& tokenizer = model_.tokenizer();
  std::vector<std::string> texts;
  texts.reserve(rendered_prompts.size());
  const auto process = [&](size_t begin, size_t end) {
    const std::vector<std::string> prompts = batch_slice(rendered_prompts, begin, end);
    const model::PromptBatch batch = model_.tokenize(prompts);
    const model::RowStopFn stop_early = stop_for_batch ? stop_for_batch(prompts.size()) : nullptr;
    const std::vector<std::vector<int64_t>> new_ids =
        model_.generate(batch, options_.max_response_length, hook, stop_early);
    ABL_ASSERT(new_ids.size() == prompts.size(), "generate returned {} rows for {} prompts", new_ids.size(),
               prompts.size());
    for (const std::vector<int64_t>& ids : new_ids) texts.push_back(tokenizer.decode(ids, skip_special));
  };
  for_each_batch(rendered_prompts.size(), batch_size_, process, say_batch_halved);
  return texts;
}

int64_t Evaluator::count_refusals(const std::vector<std::string>& rendered_prompts,
                                  const model::ProjectionHook* hook) const {
  const std::vector<std::string> texts = responses(rendered_prompts, hook);
  return std::count_if(texts.begin(), texts.end(),
                       [&](const std::string& text) { return detector_.is_refusal(text); });
}

std::vector<int64_t> Evaluator::count_refusals(const std::vector<std::string>& rendered_prompts,
                                               model::RowHooks& hooks, int64_t n_slots) const {
  c10::InferenceMode guard;
  std::vector<int64_t> refusals(static_cast<size_t>(n_slots), 0);
  const std::optional<std::vector<model::QueuedPrompt>> queue = queue_of(rendered_prompts, n_slots);
  if (!queue) {
    // A model that cannot queue them: one slot after another, each in fixed batches of its own.
    const model::RowStopFn stop_at_marker = marker_stop();
    for (int64_t slot = 0; slot < n_slots; ++slot) {
      const std::vector<std::string> texts = generate_texts(
          rendered_prompts, hooks.for_rows({slot}), [&](size_t /*n_rows*/) { return stop_at_marker; },
          /*skip_special=*/true);
      refusals[static_cast<size_t>(slot)] = std::count_if(
          texts.begin(), texts.end(), [&](const std::string& text) { return detector_.is_refusal(text); });
    }
    return refusals;
  }
  const std::vector<std::vector<int64_t>> new_ids = generate_queued(*queue, hooks, marker_stop(), n_slots);
  for (size_t row = 0; row < new_ids.size(); ++row) {
    const std::string text = model_.tokenizer().decode(new_ids[row], /*skip_special=*/true);
    if (detector_.is_refusal(text)) ++refusals[row / rendered_prompts.size()];
  }
  return refusals;
}

}  // namespace abliterate::evaluate
