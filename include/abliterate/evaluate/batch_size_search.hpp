// Batch size auto-detection (method spec §3.5, `batch_size: 0`): greedy
// generation is timed at batch sizes 1, 2, 4, ... and the fastest wins.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "abliterate/model/model.hpp"

namespace abliterate::evaluate {

// One tried batch size: its throughput, or the error that ended the search.
struct BatchSizeTrial {
  int64_t batch_size = 0;
  std::optional<double> tokens_per_second;  // nullopt: it failed with `error`
  std::string error;
};

struct BatchSizeChoice {
  int64_t batch_size = 0;               // the tried size with the highest throughput
  std::vector<BatchSizeTrial> trials;   // in the order tried
};

// Tries b = 1, 2, 4, ... up to max_batch_size (the last try is max_batch_size
// itself when it is not a power of two). Each batch is `rendered_prompts`
// repeated cyclically and cut to b; it is generated once untimed (warm-up),
// then once timed, max_response_length new tokens per row with no early stop.
// Throughput counts the tokens of the encoded responses, as Heretic does.
// The first failure ends the search; a failure at b = 1 is rethrown. Throws
// InputError when rendered_prompts is empty or max_batch_size < 1.
BatchSizeChoice choose_batch_size(const model::Model& model, const std::vector<std::string>& rendered_prompts,
                                  int64_t max_batch_size, int64_t max_response_length);

}  // namespace abliterate::evaluate
