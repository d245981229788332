// Greedy generation of many prompts through one batch that is refilled as its
// rows finish (continuous batching), where greedy_generate runs fixed batches
// that compute a stopped row until the whole batch stops.
//
// Note [Why refill the batch]
// A decode step costs a fixed part (every weight read once) plus a part per
// row. In a refusal count most rows stop within a few tokens (at their marker),
// while one row that does not refuse keeps its fixed batch going for all
// max_new_tokens steps. Here finished rows leave the batch (KvCache::keep_rows)
// and waiting prompts take their places (prefilled apart, then joined with
// KvCache::append_rows), so the steps run full batches until the queue is
// empty. Each row sees exactly its own prompt and tokens, as in a batch of its
// own: only left padding differs, which the mask hides (what changes is the
// order of float additions, as with any other batch composition).
#pragma once

#include <cstdint>
#include <vector>

#include "abliterate/model/decoder.hpp"
#include "abliterate/model/generation.hpp"
#include "abliterate/model/projection_hook.hpp"

namespace abliterate::model {

// Whether generate_continuously can serve prompts of up to `longest_prompt`
// tokens: a sliding-window layer must never forget a position it holds
// (KvCache reshaping needs them all), so prompt + new tokens must stay inside
// the window. Models without sliding layers always can.
bool fits_continuous_batching(const ModelConfig& config, int64_t longest_prompt, int64_t max_new_tokens);

// The next-token logits after each prompt, float32 [N, V] in the prompts'
// order, in forward passes of at most `max_rows` rows after the shared prefix
// (the prompts shortest first, as generate_continuously takes them).
// Requires fits_continuous_batching(config, longest prompt, 0).
torch::Tensor prefill_queued(const Decoder& decoder, const std::vector<QueuedPrompt>& prompts, int64_t max_rows,
                             RowHooks& hooks);

// The new ids of each queued prompt, in the queue's order, generated greedily
// with at most `max_rows` rows per forward pass. Rows stop as in
// greedy_generate (a stop token, options.max_new_tokens, or
// stop_early(index in the queue, its ids)). Prompts enter the batch shortest
// first (Note [Prompts by length] in the source). Requires
// fits_continuous_batching.
std::vector<std::vector<int64_t>> generate_continuously(const Decoder& decoder,
                                                        const std::vector<QueuedPrompt>& queued, int64_t max_rows,
                                                        const GreedyOptions& options, RowHooks& hooks,
                                                        const RowStopFn& stop_early);

}  // namespace abliterate::model
