// Keys and values of every layer for the tokens a decoder has seen, so that a
// generation step runs one new token instead of the whole sequence.
//
// Full-attention layers keep every position. Sliding-window layers keep only
// the last W-1 positions after each step (spec/model-runtime.md §1.2 "KV
// cache"): the next query, at index S, sees keys S-W+1 .. S, and S itself is
// the new token. The kept positions are the tail of the padded sequence, so the
// decoder's mask over all S positions applies to them by keeping its last
// columns; left padding needs nothing more. One cache per generate() call.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace abliterate::model {

class KvCache {
 public:
  explicit KvCache(int64_t n_layers)
      : keys_(static_cast<size_t>(n_layers)), values_(static_cast<size_t>(n_layers)), n_seen_(static_cast<size_t>(n_layers), 0) {}

  // Positions seen so far (the same for every layer between forward passes),
  // whether or not a sliding layer still holds them.
  int64_t length() const { return n_seen_.empty() ? 0 : n_seen_[0]; }

  // Positions layer `layer_idx` holds now.
  int64_t held(int64_t layer_idx) const {
    const auto& keys = keys_[static_cast<size_t>(layer_idx)];
    return keys.defined() ? keys.size(2) : 0;
  }

  // Appends this step's keys/values of one layer, [B, Hkv, T, D] in the model
  // dtype (keys after q/k-norm and RoPE), and returns what attention sees:
  // the held positions followed by the new ones, [B, Hkv, S', D], the last S'
  // of the S = length() + T positions. Then, for window > 0 (a sliding layer),
  // forgets all but the last window-1 positions; window 0 keeps everything.
  std::pair<torch::Tensor, torch::Tensor> append(int64_t layer_idx, const torch::Tensor& keys,
                                                 const torch::Tensor& values, int64_t window) {
    const auto idx = static_cast<size_t>(layer_idx);
    auto& cached_keys = keys_[idx];
    auto& cached_values = values_[idx];
    const torch::Tensor all_keys = cached_keys.defined() ? torch::cat({cached_keys, keys}, 2) : keys;
    const torch::Tensor all_values = cached_values.defined() ? torch::cat({cached_values, values}, 2) : values;
    n_seen_[idx] += keys.size(2);
    const int64_t n_all = all_keys.size(2);
    if (window > 0 && n_all > window - 1) {
      // A copy, so that the forgotten positions' memory is released.
      cached_keys = all_keys.narrow(2, n_all - (window - 1), window - 1).clone();
      cached_values = all_values.narrow(2, n_all - (window - 1), window - 1).clone();
    } else {
      cached_keys = all_keys;
      cached_values = all_values;
    }
    return {all_keys, all_values};
  }

 private:
  std::vector<torch::Tensor> keys_;    // per layer [B, Hkv, held, D]
  std::vector<torch::Tensor> values_;  // per layer [B, Hkv, held, D]
  std::vector<int64_t> n_seen_;        // per layer: positions appended so far
};

}  // namespace abliterate::model
