// greedy_generate: see include/abliterate/model/generation.hpp.
#include "abliterate/model/generation.hpp"

#include <algorithm>

#include "abliterate/common/error.hpp"

namespace abliterate::model {

GreedyStep take_greedy_token(int64_t token, const GreedyOptions& options, int64_t row_idx, std::vector<int64_t>& ids,
                             const RowStopFn& stop_early) {
  if (std::find(options.stop_token_ids.begin(), options.stop_token_ids.end(), token) != options.stop_token_ids.end()) {
    return {.is_appended = false, .is_done = true};
  }
  ids.push_back(token);
  const bool is_full = static_cast<int64_t>(ids.size()) >= options.max_new_tokens;
  return {.is_appended = true, .is_done = is_full || (stop_early && stop_early(row_idx, ids))};
}

std::vector<std::vector<int64_t>> greedy_generate(const Decoder& decoder, const PromptBatch& batch,
                                                  const GreedyOptions& options, const ProjectionHook* hook,
                                                  const RowStopFn& stop_early) {
  const int64_t n_rows = batch.input_ids.size(0);
  std::vector<std::vector<int64_t>> new_ids(static_cast<size_t>(n_rows));
  if (options.max_new_tokens == 0 || n_rows == 0) return new_ids;

  const torch::Device dev = decoder.device();
  KvCache cache(decoder.config().n_layers);
  torch::Tensor key_mask = batch.attention_mask.to(dev).to(torch::kBool);    // bool [B, S]
  torch::Tensor positions = positions_from_mask(batch.attention_mask).to(dev);  // int64 [B, T]
  torch::Tensor next = decoder.forward_greedy({batch.input_ids.to(dev), positions, key_mask}, &cache, hook,
                                              options.n_sampleable_tokens);  // int64 [B] on the host
  torch::Tensor last_positions = positions.select(1, positions.size(1) - 1);  // int64 [B]

  std::vector<bool> is_finished(static_cast<size_t>(n_rows), false);
  for (int64_t step_idx = 0; step_idx < options.max_new_tokens; ++step_idx) {
    const int64_t* next_ids = next.data_ptr<int64_t>();
    std::vector<int64_t> fed(static_cast<size_t>(n_rows), options.pad_token_id);
    for (int64_t row = 0; row < n_rows; ++row) {
      const auto row_idx = static_cast<size_t>(row);
      if (is_finished[row_idx]) continue;
      const GreedyStep taken = take_greedy_token(next_ids[row], options, row, new_ids[row_idx], stop_early);
      if (taken.is_appended) fed[row_idx] = next_ids[row];
      is_finished[row_idx] = taken.is_done;
    }
    const bool all_finished = std::all_of(is_finished.begin(), is_finished.end(), [](bool f) { return f; });
    if (all_finished || step_idx + 1 == options.max_new_tokens) break;

    // Every row takes one more step; stopped rows are fed pad (their output is no longer read).
    const torch::Tensor tokens = torch::tensor(fed, torch::TensorOptions().dtype(torch::kInt64)).view({n_rows, 1});
    last_positions = last_positions + 1;
    key_mask = torch::cat({key_mask, torch::ones({n_rows, 1}, key_mask.options())}, 1);
    next = decoder.forward_greedy({tokens, last_positions.view({n_rows, 1}), key_mask}, &cache, hook,
                                  options.n_sampleable_tokens);
  }
  return new_ids;
}

}  // namespace abliterate::model
