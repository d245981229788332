// First-token log-probabilities and refusal counts of a model, ablated or not
// (method spec §6.1-6.2).
#include "abliterate/evaluate/evaluator.hpp"

#include <algorithm>

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

void say_halved(int64_t old_size, int64_t new_size) {
  fmt::print(stderr, "abliterate: out of memory at batch size {}; going on at batch size {}\n", old_size, new_size);
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
  torch::NoGradGuard no_grad;  // not InferenceMode: the baseline is an ordinary tensor callers may keep
  std::vector<torch::Tensor> batches;
  const auto process = [&](size_t begin, size_t end) {
    const model::PromptBatch batch = model_.tokenize(batch_slice(rendered_prompts, begin, end));
    // Raw logits, not Heretic 1.2's processed scores: v1.4 switched to raw
    // logits because processors' -inf entries made KL NaN (method spec §6.1).
    const torch::Tensor logits =
        model_.prefill(batch, hook, /*capture_hidden=*/false).logits.to(torch::kCPU, torch::kFloat32);  // [B, V]
    const torch::Tensor row_is_finite = torch::isfinite(logits).all(1);  // bool [B]
    if (!row_is_finite.all().item<bool>()) {
      const int64_t bad_row = torch::argmin(row_is_finite.to(torch::kInt)).item<int64_t>();
      throw NumericError(fmt::format("prompt {}: first-token logits are not finite (NaN or inf)",
                                     static_cast<int64_t>(begin) + bad_row));
    }
    batches.push_back(torch::log_softmax(logits, 1));
  };
  for_each_batch(rendered_prompts.size(), batch_size_, process, say_halved);
  if (batches.empty()) return torch::empty({0, model_.config().vocab_size}, torch::kFloat32);
  return torch::cat(batches, 0);
}

std::vector<std::string> Evaluator::responses(const std::vector<std::string>& rendered_prompts,
                                              const model::ProjectionHook* hook) const {
  c10::InferenceMode guard;
  const tokenizer::Tokenizer& tokenizer = model_.tokenizer();
  // Note [Stopping a row at its first marker]
  // A row may stop as soon as its settled text (Tokenizer::settled_length:
  // the ids whose text no later id can change) holds a marker: later tokens
  // only append text, so the marker stays a substring of the normalized full
  // response (normalization lowercases, deletes '*' and collapses whitespace
  // position by position; a word cut at the end of the partial text only
  // grows). The refusal count therefore equals full generation's. The text of
  // a trailing run of byte pieces is not settled: byte fallback decodes a run
  // as one, so a later byte can turn the whole run into U+FFFD.
  StopForBatch stop_at_marker;
  if (options_.stop_at_marker) {
    stop_at_marker = [&](size_t /*n_rows*/) -> model::RowStopFn {
      return [&](int64_t /*row_idx*/, const std::vector<int64_t>& new_ids) {
        const auto settled_end = new_ids.begin() + static_cast<std::ptrdiff_t>(tokenizer.settled_length(new_ids));
        return detector_.contains_marker(tokenizer.decode({new_ids.begin(), settled_end}, /*skip_special=*/true));
      };
    };
  }
  return generate_texts(rendered_prompts, hook, stop_at_marker, /*skip_special=*/true);
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
  for_each_batch(rendered_prompts.size(), batch_size_, process, say_halved);
  return texts;
}

int64_t Evaluator::count_refusals(const std::vector<std::string>& rendered_prompts,
                                  const model::ProjectionHook* hook) const {
  const std::vector<std::string> texts = responses(rendered_prompts, hook);
  return std::count_if(texts.begin(), texts.end(),
                       [&](const std::string& text) { return detector_.is_refusal(text); });
}

}  // namespace abliterate::evaluate
