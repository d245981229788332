// KvCache's reshaping between steps, for continuous batching. See
// include/abliterate/model/kv_cache.hpp.
#include "abliterate/model/kv_cache.hpp"

#include "abliterate/common/error.hpp"

namespace abliterate::model {

void KvCache::check_nothing_forgotten(const char* operation) const {
  for (const Layer& layer : layers_) {
    ABL_ASSERT(layer.n_held == layer.n_seen && layer.n_stored == layer.n_seen,
               "KvCache::{}: a sliding layer has forgotten positions ({} held of {})", operation, layer.n_held,
               layer.n_seen);
  }
}

void KvCache::keep_rows(const torch::Tensor& row_index, int64_t n_front) {
  check_nothing_forgotten("keep_rows");
  for (Layer& layer : layers_) {
    ABL_ASSERT(n_front >= 0 && n_front <= layer.n_stored, "keep_rows: {} front positions of {}", n_front,
               layer.n_stored);
    const int64_t n_kept = layer.n_stored - n_front;
    for (torch::Tensor* buffer : {&layer.keys, &layer.values}) {
      // A fresh buffer of the old capacity: the kept rows, their positions from the front.
      torch::Tensor kept = torch::empty({row_index.size(0), buffer->size(1), buffer->size(2), buffer->size(3)},
                                        buffer->options());  // [B', Hkv, capacity, D]
      kept.narrow(2, 0, n_kept).copy_(buffer->narrow(2, n_front, n_kept).index_select(0, row_index));
      *buffer = std::move(kept);
    }
    layer.n_stored = layer.n_held = layer.n_seen = n_kept;
  }
}

void KvCache::append_rows(const KvCache& other) {
  ABL_ASSERT(other.layers_.size() == layers_.size(), "append_rows: {} layers and {}", other.layers_.size(),
             layers_.size());
  if (rows() == 0) {
    const int64_t capacity = capacity_;
    *this = other;
    capacity_ = std::max(capacity, capacity_);
    return;
  }
  check_nothing_forgotten("append_rows");
  other.check_nothing_forgotten("append_rows");
  for (size_t layer_idx = 0; layer_idx < layers_.size(); ++layer_idx) {
    Layer& layer = layers_[layer_idx];
    const Layer& joining = other.layers_[layer_idx];
    const int64_t n_positions = std::max(layer.n_stored, joining.n_stored);
    const int64_t capacity = std::max({n_positions, capacity_, layer.keys.size(2)});
    for (auto [buffer, joining_buffer] :
         {std::pair{&layer.keys, &joining.keys}, std::pair{&layer.values, &joining.values}}) {
      const int64_t n_rows = buffer->size(0);
      const int64_t n_joining = joining_buffer->size(0);
      // Zeros, not garbage, in the padding: a masked key's probability is 0, and 0 * NaN is NaN.
      torch::Tensor both = torch::zeros({n_rows + n_joining, buffer->size(1), capacity, buffer->size(3)},
                                        buffer->options());  // [B + B', Hkv, capacity, D]
      both.narrow(0, 0, n_rows)
          .narrow(2, n_positions - layer.n_stored, layer.n_stored)
          .copy_(buffer->narrow(2, 0, layer.n_stored));
      both.narrow(0, n_rows, n_joining)
          .narrow(2, n_positions - joining.n_stored, joining.n_stored)
          .copy_(joining_buffer->narrow(2, 0, joining.n_stored));
      *buffer = std::move(both);
    }
    layer.n_stored = layer.n_held = layer.n_seen = n_positions;
  }
}

}  // namespace abliterate::model
