// Keys and values of every layer for the tokens a decoder has seen, so that a
// generation step runs one new token instead of the whole sequence.
//
// The walking skeleton grows every layer's cache by concatenation and keeps
// all positions, sliding layers included (the attention mask enforces the
// window). A ring buffer of W for sliding layers (spec/model-runtime.md §1.2
// "KV cache") is a later optimisation. One cache per generate() call.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

namespace abliterate::model {

class KvCache {
 public:
  explicit KvCache(int64_t n_layers) : keys_(static_cast<size_t>(n_layers)), values_(static_cast<size_t>(n_layers)) {}

  // Positions cached (the same for every layer between forward passes).
  int64_t length() const { return keys_.empty() || !keys_[0].defined() ? 0 : keys_[0].size(2); }

  // Appends this step's keys/values of one layer, [B, Hkv, T, D] in the model
  // dtype (keys after q/k-norm and RoPE), and returns the layer's whole cache
  // [B, Hkv, S, D], S = length before the step + T.
  std::pair<torch::Tensor, torch::Tensor> append(int64_t layer_idx, const torch::Tensor& keys,
                                                 const torch::Tensor& values) {
    auto& cached_keys = keys_[static_cast<size_t>(layer_idx)];
    auto& cached_values = values_[static_cast<size_t>(layer_idx)];
    cached_keys = cached_keys.defined() ? torch::cat({cached_keys, keys}, 2) : keys;
    cached_values = cached_values.defined() ? torch::cat({cached_values, values}, 2) : values;
    return {cached_keys, cached_values};
  }

 private:
  std::vector<torch::Tensor> keys_;    // per layer [B, Hkv, S, D]
  std::vector<torch::Tensor> values_;  // per layer [B, Hkv, S, D]
};

}  // namespace abliterate::model
