// The seam through which ablation reaches the decoder without the decoder
// knowing about it: the decoder calls the hook on the output of every o_proj
// and down_proj (before any bias). See Note [Ablation on output projections]
// in method/ablation.hpp and DESIGN.md §3.
#pragma once

#include <cstdint>

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

}  // namespace abliterate::model
