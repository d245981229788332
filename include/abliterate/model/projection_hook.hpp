// The seam through which ablation reaches the decoder without the decoder
// knowing about it: the decoder calls the hook on the output of every o_proj
// and down_proj (before any bias). See Note [Ablation on output projections]
// in method/ablation.hpp and DESIGN.md §3.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

namespace abliterate::model {

// The two abliterable components of a layer, in Heretic's discovery order.
enum class Projection { attn_o_proj, mlp_down_proj };

// Heretic's component names ("attn.o_proj", "mlp.down_proj").
const char* to_string(Projection p);

class ProjectionHook {
 public:
  virtual ~ProjectionHook() = default;

  // y: [B, T, d] in the model dtype, the output of projection `which` of layer
  // `layer_idx`. Returns the tensor to use instead (may be y itself).
  virtual torch::Tensor apply(Projection which, int64_t layer_idx, const torch::Tensor& y) const = 0;
};

// The hooks of a batch whose rows may belong to different trials (several
// trials per batch): row r is ablated as slot row_slots[r] says.
class RowHooks {
 public:
  virtual ~RowHooks() = default;
  // The hook for a batch whose row r uses slot row_slots[r]; nullptr: none.
  // Valid until the next call.
  virtual const ProjectionHook* for_rows(const std::vector<int64_t>& row_slots) = 0;
};

// One hook (or none) for every row, whatever its slot.
class OneHookForAllRows final : public RowHooks {
 public:
  explicit OneHookForAllRows(const ProjectionHook* hook) : hook_(hook) {}
  const ProjectionHook* for_rows(const std::vector<int64_t>& /*row_slots*/) override { return hook_; }

 private:
  const ProjectionHook* hook_;
};

}  // namespace abliterate::model
