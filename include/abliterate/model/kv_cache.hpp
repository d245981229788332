// Keys and values of every layer for the tokens a decoder has seen, so that a
// generation step runs one new token instead of the whole sequence.
//
// Full-attention layers keep every position. Sliding-window layers keep only
// the last W-1 positions after each step (spec/model-runtime.md §1.2 "KV
// cache"): the next query, at index S, sees keys S-W+1 .. S, and S itself is
// the new token. The kept positions are the tail of the padded sequence, so the
// decoder's mask over all S positions applies to them by keeping its last
// columns; left padding needs nothing more. One cache per generate() call.
//
// Continuous batching (continuous_generation.hpp) reshapes a cache between
// steps: rows leave and the leading positions no row needs go (keep_rows),
// and rows of another cache join, right-aligned, with left padding for the
// shorter (append_rows). Those need every position still held,
// so they refuse a cache whose sliding layers have forgotten any.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace abliterate::model {

class KvCache {
 public:
  // capacity: positions to allocate at the first append when more than it
  // brings (prompt + new tokens: no regrowth during generation); 0: grow as needed.
  explicit KvCache(int64_t n_layers, int64_t capacity = 0) : layers_(static_cast<size_t>(n_layers)), capacity_(capacity) {}

  // Positions seen so far (the same for every layer between forward passes),
  // whether or not a sliding layer still holds them.
  int64_t length() const { return layers_.empty() ? 0 : layers_[0].n_seen; }

  // Positions layer `layer_idx` holds now.
  int64_t held(int64_t layer_idx) const { return layers_[static_cast<size_t>(layer_idx)].n_held; }

  // Appends this step's keys/values of one layer, [B, Hkv, T, D] in the model
  // dtype (keys after q/k-norm and RoPE), and returns what attention sees:
  // the held positions followed by the new ones, [B, Hkv, S', D], the last S'
  // of the S = length() + T positions. Then, for window > 0 (a sliding layer),
  // forgets all but the last window-1 positions; window 0 keeps everything.
  // The returned tensors are views of the cache's buffers, valid until the
  // next append to the same layer.
  std::pair<torch::Tensor, torch::Tensor> append(int64_t layer_idx, const torch::Tensor& keys,
                                                 const torch::Tensor& values, int64_t window) {
    Layer& layer = layers_[static_cast<size_t>(layer_idx)];
    const int64_t n_new = keys.size(2);
    // Positions a sliding layer forgot at the last step still sit in front of
    // the buffer (they were part of what that step returned): drop them now.
    if (layer.n_stored > layer.n_held) {
      const int64_t first_kept = layer.n_stored - layer.n_held;
      for (torch::Tensor* buffer : {&layer.keys, &layer.values}) {
        const torch::Tensor kept = buffer->narrow(2, first_kept, layer.n_held).clone();  // the ranges may overlap
        buffer->narrow(2, 0, layer.n_held).copy_(kept);
      }
      layer.n_stored = layer.n_held;
    }
    // Grow the buffers geometrically, so that a step copies only its new
    // positions in (torch::cat would copy the whole cache every step).
    const int64_t n_needed = layer.n_stored + n_new;
    if (!layer.keys.defined() || layer.keys.size(2) < n_needed) {
      const int64_t capacity =
          std::max({n_needed, layer.keys.defined() ? 2 * layer.keys.size(2) : capacity_, int64_t{0}});
      for (auto [buffer, fresh] : {std::pair{&layer.keys, &keys}, std::pair{&layer.values, &values}}) {
        torch::Tensor grown = torch::empty({fresh->size(0), fresh->size(1), capacity, fresh->size(3)}, fresh->options());
        if (layer.n_stored > 0) grown.narrow(2, 0, layer.n_stored).copy_(buffer->narrow(2, 0, layer.n_stored));
        *buffer = std::move(grown);
      }
    }
    layer.keys.narrow(2, layer.n_stored, n_new).copy_(keys);
    layer.values.narrow(2, layer.n_stored, n_new).copy_(values);
    layer.n_stored = n_needed;
    layer.n_seen += n_new;
    layer.n_held = window > 0 ? std::min(layer.n_stored, window - 1) : layer.n_stored;
    return {layer.keys.narrow(2, 0, layer.n_stored), layer.values.narrow(2, 0, layer.n_stored)};
  }

  // Rows in the cache (0 before the first append).
  int64_t rows() const { return layers_.empty() || !layers_[0].keys.defined() ? 0 : layers_[0].keys.size(0); }

  // Keeps the rows `row_index` (int64 [B'], on the cache's device) in that
  // order, and forgets the first `n_front` positions of every row.
  void keep_rows(const torch::Tensor& row_index, int64_t n_front);

  // Puts the rows of `other` after this cache's rows. Both are aligned at
  // their last position; the shorter one is padded on the left with zeros
  // (its key mask must say so). An empty cache takes `other`'s buffers
  // (shared: `other` is meant to be dropped).
  void append_rows(const KvCache& other);

 private:
  // Throws unless every layer still holds every position it has seen.
  void check_nothing_forgotten(const char* operation) const;

  struct Layer {
    torch::Tensor keys;    // [B, Hkv, capacity, D]; positions [0, n_stored) are valid
    torch::Tensor values;  // [B, Hkv, capacity, D]
    int64_t n_stored = 0;  // positions in the buffers: the held ones, after a sliding step also the forgotten ones before them
    int64_t n_held = 0;    // the last n_held stored positions are kept for the next step
    int64_t n_seen = 0;    // positions appended so far
  };
  std::vector<Layer> layers_;
  int64_t capacity_ = 0;
};

}  // namespace abliterate::model
