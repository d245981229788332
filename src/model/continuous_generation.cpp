// generate_continuously: see include/abliterate/model/continuous_generation.hpp.
#include "abliterate/model/continuous_generation.hpp"

#include <algorithm>
#include <numeric>

#include "abliterate/common/error.hpp"

namespace abliterate::model {
namespace {

// The batch between two steps. Every row has a pending token: the greedy
// choice of its last forward pass, not yet taken.
struct LiveBatch {
  explicit LiveBatch(int64_t n_layers, int64_t capacity) : cache(n_layers, capacity) {}

  int64_t n_rows() const { return static_cast<int64_t>(prompt_idx.size()); }
  int64_t n_done() const { return std::count(is_done.begin(), is_done.end(), true); }

  std::vector<size_t> prompt_idx;  // per row: its prompt
  std::vector<int64_t> slots;      // per row: its hook slot
  std::vector<bool> is_done;       // per row: stopped; still computed until the batch is compacted
  KvCache cache;
  torch::Tensor key_mask;        // bool [B, S]: real keys
  torch::Tensor last_positions;  // int64 [B]: RoPE position of each row's last token
  torch::Tensor next_tokens;     // int64 [B] on the host: each row's pending greedy choice
};

// `mask` bool [B, S] with n more columns of false on the left.
torch::Tensor pad_left(const torch::Tensor& mask, int64_t n) {
  if (n == 0) return mask;
  return torch::cat({torch::zeros({mask.size(0), n}, mask.options()), mask}, 1);
}

// Drops the stopped rows, and the leading positions that no remaining row attends to.
void keep_live_rows(LiveBatch& batch) {
  std::vector<int64_t> live;
  for (int64_t row = 0; row < batch.n_rows(); ++row) {
    if (!batch.is_done[static_cast<size_t>(row)]) live.push_back(row);
  }
  const torch::Device dev = batch.key_mask.device();
  const torch::Tensor row_index = torch::tensor(live, torch::TensorOptions().dtype(torch::kInt64)).to(dev);
  std::vector<size_t> prompt_idx;
  std::vector<int64_t> slots;
  for (const int64_t row : live) {
    prompt_idx.push_back(batch.prompt_idx[static_cast<size_t>(row)]);
    slots.push_back(batch.slots[static_cast<size_t>(row)]);
  }
  int64_t n_front = 0;
  if (!live.empty()) {
    const torch::Tensor kept_mask = batch.key_mask.index_select(0, row_index);  // bool [B', S]
    // The first column any kept row attends to (every row's last column is real).
    n_front = kept_mask.any(0).to(torch::kInt32).argmax().item<int64_t>();
    batch.key_mask = kept_mask.narrow(1, n_front, kept_mask.size(1) - n_front).contiguous();
    batch.last_positions = batch.last_positions.index_select(0, row_index);
    batch.next_tokens = batch.next_tokens.index_select(0, row_index.to(torch::kCPU));
  }
  batch.cache.keep_rows(row_index, n_front);
  batch.prompt_idx = std::move(prompt_idx);
  batch.slots = std::move(slots);
  batch.is_done.assign(live.size(), false);
}

// Note [The shared prefix]
// Every prompt of a study starts with the same tokens: the chat template's
// head and the system prompt. Their keys and values depend only on those
// tokens and the trial's ablation, so they are computed once per slot (one
// row each) and copied into every batch, which then runs only the rest of its
// prompts. A row's keys are laid out [prefix][padding][rest]: the mask hides
// the padding, and positions continue from the prefix, so each row sees what
// its whole prompt would give it (the float sums run in another order).
struct SharedPrefix {
  int64_t length = 0;  // tokens every prompt starts with (at least one token of each prompt is left)
  KvCache cache{0};    // row s: the prefix under slot s's hook; empty when length is 0
};

// A common prefix this short is not worth a forward pass of its own.
constexpr int64_t kMinSharedPrefix = 4;

SharedPrefix shared_prefix(const Decoder& decoder, const std::vector<QueuedPrompt>& prompts, int64_t capacity,
                           RowHooks& hooks) {
  SharedPrefix prefix;
  const std::vector<int64_t>& head = prompts.front().ids;
  int64_t length = static_cast<int64_t>(head.size()) - 1;
  int64_t n_slots = 0;
  for (const QueuedPrompt& prompt : prompts) {
    const auto shortest = std::min(static_cast<int64_t>(prompt.ids.size()) - 1, length);
    const auto mismatch = std::mismatch(head.begin(), head.begin() + shortest, prompt.ids.begin());
    length = mismatch.first - head.begin();
    n_slots = std::max(n_slots, prompt.hook_slot + 1);
  }
  if (length < kMinSharedPrefix) return prefix;
  prefix.length = length;
  const torch::Device dev = decoder.device();
  const torch::Tensor ids = torch::tensor(std::vector<int64_t>(head.begin(), head.begin() + length), torch::kInt64)
                                .view({1, length})
                                .expand({n_slots, length})
                                .contiguous();  // int64 [n_slots, P], on the host
  const torch::Tensor positions = torch::arange(length, torch::TensorOptions().dtype(torch::kInt64).device(dev))
                                      .view({1, length})
                                      .expand({n_slots, length})
                                      .contiguous();  // int64 [n_slots, P]
  const torch::Tensor mask = torch::ones({n_slots, length}, torch::TensorOptions().dtype(torch::kBool).device(dev));
  std::vector<int64_t> slots(static_cast<size_t>(n_slots));
  for (int64_t slot = 0; slot < n_slots; ++slot) slots[static_cast<size_t>(slot)] = slot;
  prefix.cache = KvCache(decoder.config().n_layers, capacity);
  decoder.forward({ids, positions, mask}, &prefix.cache, hooks.for_rows(slots), HiddenCapture::none);
  return prefix;
}

// Prompts [first, first + n), prefilled as a batch of their own after the shared prefix.
struct PrefilledRows {
  KvCache cache{0};
  torch::Tensor key_mask;        // bool [n, S]
  torch::Tensor last_positions;  // int64 [n]
  torch::Tensor logits;          // float32 [n, V]; undefined when greedy
  torch::Tensor next_tokens;     // int64 [n] on the host, each row's greedy choice; undefined unless greedy
  std::vector<int64_t> slots;
};

// With `greedy`, the rows' first greedy choices rather than their logits.
PrefilledRows prefill_rows(const Decoder& decoder, const std::vector<QueuedPrompt>& prompts, size_t first, int64_t n,
                           const SharedPrefix& prefix, int64_t capacity, RowHooks& hooks, const GreedyOptions* greedy) {
  const torch::Device dev = decoder.device();
  const int64_t n_shared = prefix.length;
  int64_t n_positions = 0;  // the longest rest of a prompt
  for (int64_t row = 0; row < n; ++row) {
    const auto n_ids = static_cast<int64_t>(prompts[first + static_cast<size_t>(row)].ids.size());
    ABL_ASSERT(n_ids > n_shared, "prompt {} has {} tokens, the shared prefix {}", first + static_cast<size_t>(row),
               n_ids, n_shared);
    n_positions = std::max(n_positions, n_ids - n_shared);
  }
  torch::Tensor ids = torch::full({n, n_positions}, 0, torch::kInt64);  // int64 [n, T], padding ids are masked
  torch::Tensor mask = torch::zeros({n, n_positions}, torch::kBool);    // bool [n, T]
  PrefilledRows rows;
  for (int64_t row = 0; row < n; ++row) {
    const QueuedPrompt& prompt = prompts[first + static_cast<size_t>(row)];
    const auto n_rest = static_cast<int64_t>(prompt.ids.size()) - n_shared;
    ids[row].narrow(0, n_positions - n_rest, n_rest)
        .copy_(torch::tensor(std::vector<int64_t>(prompt.ids.begin() + n_shared, prompt.ids.end()), torch::kInt64));
    mask[row].narrow(0, n_positions - n_rest, n_rest).fill_(true);
    rows.slots.push_back(prompt.hook_slot);
  }
  const torch::Tensor positions = (positions_from_mask(mask) + n_shared).to(dev);  // int64 [n, T]
  rows.key_mask = mask.to(dev);
  if (n_shared > 0) {
    rows.cache = prefix.cache;  // shares the buffers until keep_rows copies the rows out
    rows.cache.keep_rows(torch::tensor(rows.slots, torch::TensorOptions().dtype(torch::kInt64)).to(dev), 0);
    rows.key_mask = torch::cat({torch::ones({n, n_shared}, rows.key_mask.options()), rows.key_mask}, 1);
  } else {
    rows.cache = KvCache(decoder.config().n_layers, capacity);
  }
  const DecoderInput input{ids, positions, rows.key_mask};
  if (greedy != nullptr) {
    rows.next_tokens =
        decoder.forward_greedy(input, &rows.cache, hooks.for_rows(rows.slots), greedy->n_sampleable_tokens);
  } else {
    rows.logits = decoder.forward(input, &rows.cache, hooks.for_rows(rows.slots), HiddenCapture::none).logits;
  }
  rows.last_positions = positions.select(1, n_positions - 1);
  return rows;
}

// Prefills prompts [first, first + n) as a batch of their own, after the
// shared prefix, and joins them to `batch`, both aligned at their last position.
void add_rows(const Decoder& decoder, const std::vector<QueuedPrompt>& prompts, size_t first, int64_t n,
              const SharedPrefix& prefix, int64_t capacity, RowHooks& hooks, const GreedyOptions& greedy,
              LiveBatch& batch) {
  PrefilledRows rows = prefill_rows(decoder, prompts, first, n, prefix, capacity, hooks, &greedy);
  const int64_t n_positions = rows.key_mask.size(1);
  if (batch.n_rows() == 0) {
    batch.key_mask = rows.key_mask;
    batch.last_positions = rows.last_positions;
    batch.next_tokens = rows.next_tokens;
  } else {
    const int64_t n_keys = std::max(batch.key_mask.size(1), n_positions);
    batch.key_mask = torch::cat({pad_left(batch.key_mask, n_keys - batch.key_mask.size(1)),
                                 pad_left(rows.key_mask, n_keys - n_positions)}, 0);
    batch.last_positions = torch::cat({batch.last_positions, rows.last_positions}, 0);
    batch.next_tokens = torch::cat({batch.next_tokens, rows.next_tokens}, 0);
  }
  batch.cache.append_rows(rows.cache);
  for (int64_t row = 0; row < n; ++row) batch.prompt_idx.push_back(first + static_cast<size_t>(row));
  batch.slots.insert(batch.slots.end(), rows.slots.begin(), rows.slots.end());
  batch.is_done.resize(batch.prompt_idx.size(), false);
}

// Note [Prompts by length]
// A forward pass pads every row to its longest prompt, so the passes take the
// prompts shortest first: rows of like length share a pass (and a refill).
// For 100 Alpaca prompts in Gemma 3's template in passes of 32, that is 2064
// positions past the shared prefix instead of 2960 in the prompts' order.
// Results return in the prompts' order; a row's values change only as any
// other batch composition changes them (Note [Why refill the batch]).
std::vector<size_t> shortest_first(const std::vector<QueuedPrompt>& prompts) {
  std::vector<size_t> order(prompts.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return prompts[a].ids.size() < prompts[b].ids.size(); });
  return order;
}

std::vector<QueuedPrompt> reordered(const std::vector<QueuedPrompt>& prompts, const std::vector<size_t>& order) {
  std::vector<QueuedPrompt> out;
  out.reserve(order.size());
  for (const size_t prompt_idx : order) out.push_back(prompts[prompt_idx]);
  return out;
}

}  // namespace

bool fits_continuous_batching(const ModelConfig& config, int64_t longest_prompt, int64_t max_new_tokens) {
  bool has_sliding_layer = false;
  for (int64_t layer_idx = 0; layer_idx < config.n_layers; ++layer_idx) {
    has_sliding_layer = has_sliding_layer || config.is_sliding(layer_idx);
  }
  // A batch is at most one step past its longest row (compaction trims the
  // rest), and a sliding layer holds window - 1 positions: two to spare.
  return !has_sliding_layer || config.sliding_window == 0 ||
         longest_prompt + max_new_tokens + 2 < config.sliding_window;
}

torch::Tensor prefill_queued(const Decoder& decoder, const std::vector<QueuedPrompt>& prompts, int64_t max_rows,
                             RowHooks& hooks) {
  ABL_CHECK(max_rows > 0, InputError, "prefill_queued: max_rows must be positive, got {}", max_rows);
  if (prompts.empty()) return torch::empty({0, decoder.config().vocab_size}, torch::kFloat32);
  const std::vector<size_t> order = shortest_first(prompts);  // Note [Prompts by length]
  const std::vector<QueuedPrompt> sorted = reordered(prompts, order);
  const auto longest_prompt = static_cast<int64_t>(sorted.back().ids.size());
  ABL_CHECK(fits_continuous_batching(decoder.config(), longest_prompt, 0), InputError,
            "prefill_queued: prompts of {} tokens exceed the sliding window of {}", longest_prompt,
            decoder.config().sliding_window);
  const SharedPrefix prefix = shared_prefix(decoder, sorted, longest_prompt, hooks);
  torch::Tensor logits;  // float32 [N, V], in the prompts' order
  for (size_t first = 0; first < sorted.size(); first += static_cast<size_t>(max_rows)) {
    const auto n = static_cast<int64_t>(std::min(sorted.size() - first, static_cast<size_t>(max_rows)));
    const torch::Tensor rows =
        prefill_rows(decoder, sorted, first, n, prefix, longest_prompt, hooks, /*greedy=*/nullptr).logits;
    if (!logits.defined()) logits = torch::empty({static_cast<int64_t>(sorted.size()), rows.size(1)}, rows.options());
    const std::vector<int64_t> destinations(order.begin() + static_cast<std::ptrdiff_t>(first),
                                            order.begin() + static_cast<std::ptrdiff_t>(first) + n);
    logits.index_copy_(0, torch::tensor(destinations, torch::kInt64).to(rows.device()), rows);
  }
  return logits;
}

std::vector<std::vector<int64_t>> generate_continuously(const Decoder& decoder,
                                                        const std::vector<QueuedPrompt>& queued, int64_t max_rows,
                                                        const GreedyOptions& options, RowHooks& hooks,
                                                        const RowStopFn& stop_early) {
  if (options.max_new_tokens == 0 || queued.empty()) return std::vector<std::vector<int64_t>>(queued.size());
  // The loop below sees the prompts shortest first (Note [Prompts by length]).
  const std::vector<size_t> order = shortest_first(queued);
  const std::vector<QueuedPrompt> prompts = reordered(queued, order);
  RowStopFn stop_sorted;
  if (stop_early) {
    stop_sorted = [&](int64_t prompt_idx, const std::vector<int64_t>& ids) {
      return stop_early(static_cast<int64_t>(order[static_cast<size_t>(prompt_idx)]), ids);
    };
  }
  std::vector<std::vector<int64_t>> new_ids(prompts.size());
  ABL_CHECK(max_rows > 0, InputError, "generate_continuously: max_rows must be positive, got {}", max_rows);
  const auto longest_prompt = static_cast<int64_t>(prompts.back().ids.size());
  ABL_CHECK(fits_continuous_batching(decoder.config(), longest_prompt, options.max_new_tokens), InputError,
            "generate_continuously: prompts of {} tokens plus {} new ones exceed the sliding window of {}",
            longest_prompt, options.max_new_tokens, decoder.config().sliding_window);

  const int64_t length_limit = longest_prompt + options.max_new_tokens;
  LiveBatch batch(decoder.config().n_layers, /*capacity=*/length_limit + 1);
  const SharedPrefix prefix = shared_prefix(decoder, prompts, length_limit + 1, hooks);
  // Refill once a quarter of the batch is free: joining rows copies the cache,
  // so it should bring several rows at a time.
  const int64_t refill_at = std::max<int64_t>(1, max_rows / 4);
  size_t next_prompt = 0;
  while (true) {
    const int64_t n_done = batch.n_done();
    const int64_t n_live = batch.n_rows() - n_done;
    const auto n_waiting = static_cast<int64_t>(prompts.size() - next_prompt);
    const int64_t n_free = max_rows - n_live;
    const bool refill = n_waiting > 0 && (n_live == 0 || n_free >= std::min(refill_at, n_waiting));
    // Compact when rows join, when a quarter of the rows only pad, or when the
    // keys reach the longest a row can need (so that stopped rows' old
    // positions are trimmed and the sliding window is never exceeded).
    const bool compact = n_done > 0 && (refill || n_live == 0 || n_done >= std::max<int64_t>(1, batch.n_rows() / 4) ||
                                        batch.key_mask.size(1) >= length_limit);
    if (compact) keep_live_rows(batch);
    if (refill) {
      const int64_t n_joining = std::min(n_free, n_waiting);
      add_rows(decoder, prompts, next_prompt, n_joining, prefix, length_limit + 1, hooks, options, batch);
      next_prompt += static_cast<size_t>(n_joining);
    }
    if (batch.n_rows() == 0) break;

    // Take each live row's pending token.
    const int64_t* next_ids = batch.next_tokens.data_ptr<int64_t>();
    const int64_t n_rows = batch.n_rows();
    std::vector<int64_t> fed(static_cast<size_t>(n_rows), options.pad_token_id);
    for (int64_t row = 0; row < n_rows; ++row) {
      const auto row_idx = static_cast<size_t>(row);
      if (batch.is_done[row_idx]) continue;
      const size_t prompt = batch.prompt_idx[row_idx];
      const GreedyStep taken =
          take_greedy_token(next_ids[row], options, static_cast<int64_t>(prompt), new_ids[prompt], stop_sorted);
      if (taken.is_appended) fed[row_idx] = next_ids[row];
      batch.is_done[row_idx] = taken.is_done;
    }
    if (batch.n_done() == n_rows) continue;  // nothing to step; compact and refill, or end

    // One decode step for every row; stopped rows are fed pad (their output is not read).
    const torch::Tensor tokens = torch::tensor(fed, torch::TensorOptions().dtype(torch::kInt64)).view({n_rows, 1});
    batch.last_positions = batch.last_positions + 1;
    batch.key_mask = torch::cat({batch.key_mask, torch::ones({n_rows, 1}, batch.key_mask.options())}, 1);
    batch.next_tokens =
        decoder.forward_greedy({tokens, batch.last_positions.view({n_rows, 1}), batch.key_mask}, &batch.cache,
                               hooks.for_rows(batch.slots), options.n_sampleable_tokens);
  }
  std::vector<std::vector<int64_t>> in_queue_order(queued.size());
  for (size_t sorted_idx = 0; sorted_idx < order.size(); ++sorted_idx) {
    in_queue_order[order[sorted_idx]] = std::move(new_ids[sorted_idx]);
  }
  return in_queue_order;
}

}  // namespace abliterate::model
