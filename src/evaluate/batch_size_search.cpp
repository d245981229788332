#include "abliterate/evaluate/batch_size_search.hpp"

#include <algorithm>
#include <chrono>

#include "abliterate/common/error.hpp"
#include "abliterate/evaluate/evaluator.hpp"

namespace abliterate::evaluate {
namespace {

// 1, 2, 4, ... below max_batch_size, then max_batch_size itself.
std::vector<int64_t> candidate_sizes(int64_t max_batch_size) {
  std::vector<int64_t> sizes;
  for (int64_t b = 1; b < max_batch_size; b *= 2) sizes.push_back(b);
  sizes.push_back(max_batch_size);
  return sizes;
}

std::vector<std::string> cyclic_batch(const std::vector<std::string>& prompts, int64_t size) {
  std::vector<std::string> batch;
  batch.reserve(static_cast<size_t>(size));
  for (int64_t i = 0; i < size; ++i) batch.push_back(prompts[static_cast<size_t>(i) % prompts.size()]);
  return batch;
}

// Tokens per second of one timed generation of `batch` in a single forward batch.
double measure_throughput(const model::Model& model, const std::vector<std::string>& batch,
                          int64_t max_response_length) {
  // Markers never stop a row here: the search times full generation. The
  // detector is unused for that, so it gets no markers.
  const Evaluator evaluator(model, RefusalDetector({}),
                            EvaluatorOptions{.batch_size = static_cast<int64_t>(batch.size()),
                                             .max_response_length = max_response_length,
                                             .stop_at_marker = false});
  evaluator.responses(batch, nullptr);  // warm-up: allocator, kernels, caches
  const auto started = std::chrono::steady_clock::now();
  const std::vector<std::string> responses = evaluator.responses(batch, nullptr);
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - started;
  int64_t n_tokens = 0;
  for (const std::string& response : responses) {
    n_tokens += static_cast<int64_t>(model.tokenizer().encode(response).size());
  }
  return static_cast<double>(n_tokens) / std::max(elapsed.count(), 1e-9);
}

}  // namespace

BatchSizeChoice choose_batch_size(const model::Model& model, const std::vector<std::string>& rendered_prompts,
                                  int64_t max_batch_size, int64_t max_response_length) {
  ABL_CHECK(!rendered_prompts.empty(), InputError, "batch size detection: no prompts to time");
  ABL_CHECK(max_batch_size >= 1, InputError, "max_batch_size: expected a positive number, got {}", max_batch_size);
  BatchSizeChoice choice;
  double best = -1;
  for (int64_t b : candidate_sizes(max_batch_size)) {
    try {
      const double throughput = measure_throughput(model, cyclic_batch(rendered_prompts, b), max_response_length);
      choice.trials.push_back({.batch_size = b, .tokens_per_second = throughput, .error = {}});
      if (throughput > best) {
        best = throughput;
        choice.batch_size = b;
      }
    } catch (const std::exception& e) {
      // Usually out of memory: larger batches would fail too.
      if (b == 1) throw;
      choice.trials.push_back({.batch_size = b, .tokens_per_second = std::nullopt, .error = e.what()});
      break;
    }
  }
  return choice;
}

}  // namespace abliterate::evaluate
