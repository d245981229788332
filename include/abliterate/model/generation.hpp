// Batched greedy generation with a KV cache (method spec §3.3): what
// Model::generate runs. Rows stop independently; a stopped row is fed the pad
// token until the whole batch stops, as HF's generate does.
#pragma once

#include <cstdint>
#include <vector>

#include "abliterate/model/decoder.hpp"
#include "abliterate/model/model.hpp"

namespace abliterate::model {

struct GreedyOptions {
  int64_t max_new_tokens = 0;
  std::vector<int64_t> stop_token_ids;  // a row stops before emitting any of these
  int64_t pad_token_id = 0;             // fed to stopped rows
  int64_t n_sampleable_tokens = 0;      // logits at ids >= this (embedding padding rows) are never chosen (spec §6.7 item 7)
};

// One row's greedy step, shared by both generation loops: `token` is
// appended to `ids` unless it is a stop token (which ends the row and is not
// part of its output); the row is done at a stop token, at
// options.max_new_tokens, or when stop_early(row_idx, ids) says so.
struct GreedyStep {
  bool is_appended = false;
  bool is_done = false;
};
GreedyStep take_greedy_token(int64_t token, const GreedyOptions& options, int64_t row_idx, std::vector<int64_t>& ids,
                             const RowStopFn& stop_early);

// The new ids of each row of `batch` (a left-padded PromptBatch, on the
// decoder's device). Ties in argmax go to the lowest id (torch's argmax).
std::vector<std::vector<int64_t>> greedy_generate(const Decoder& decoder, const PromptBatch& batch,
                                                  const GreedyOptions& options, const ProjectionHook* hook,
                                                  const RowStopFn& stop_early);

}  // namespace abliterate::model
