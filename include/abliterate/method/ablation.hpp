// Module method: the method: residuals, refusal directions, the layer-weight kernel, ablation hooks.
// Must not know: how trials are sampled, stored or sent.
//
// Ablation of one trial as an output-projection hook.
//
// Note [Ablation on output projections]
// Heretic edits o_proj and down_proj through rank-1 LoRA adapters. The same
// effect is an exact operation on each module's output y = W x (DESIGN.md §3):
//   none: y <- y - w v (v^T y)
//   pre:  y <- y - w (n*v) ((v/n)^T y)                    n = row norms of W
//   full: y <- (y - w (n*v) ((v/n)^T y)) / m   m_i = ||row i of (W^ - w v v^T W^)||, W^ = rownorm(W)
// so the base weights are never copied or rewritten between trials.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "abliterate/config/ablation_params.hpp"
#include "abliterate/model/model.hpp"

namespace abliterate::method {

class AblationHook : public model::ProjectionHook {
 public:
  // directions: float32 [L+1, d] unit rows. Precomputes per-layer vectors and
  // (pre/full) the row-norm terms from the model's weights. `model` must
  // outlive nothing: what is needed is copied. Throws InputError when the
  // directions' shape does not fit the model.
  AblationHook(const model::Model& model, const torch::Tensor& directions, const config::AblationParams& params,
               config::RowNormalization mode);

  // y: [B, T, d] (any leading dims) in the model dtype; returns y itself for
  // layers with weight 0, else the edited output in y's dtype, computed in
  // float32 (as PEFT adds its float32 LoRA term before casting back).
  torch::Tensor apply(model::Projection which, int64_t layer_idx, const torch::Tensor& y) const override;

  // One layer's edit, on the model's device; apply() computes in float32 and
  // casts the result back to y's dtype.
  struct LayerEdit {
    double weight = 0;           // w; 0 = untouched
    torch::Tensor v;             // float32 [d]: w*v (none) or w*(n*v) (pre/full), w folded in
    torch::Tensor u;             // float32 [d]: v (none) or v/n (pre/full)
    torch::Tensor inv_row_scale; // float32 [d]: 1/m (full), undefined otherwise
  };

  // The edit of projection `which` in layer `layer_idx` (TrialRowHooks stacks them).
  const LayerEdit& edit(model::Projection which, int64_t layer_idx) const;
  int64_t n_layers() const { return static_cast<int64_t>(attn_.size()); }

 private:
  std::vector<LayerEdit> attn_;
  std::vector<LayerEdit> mlp_;
};

// The same update written into a weight, for export and for the test that
// hooked and materialized models agree. weight float32 [d, in], v [d] unit.
//   none: W - w v (vᵀW);  pre: diag(n)(I - w v vᵀ)Ŵ;  full: diag(n) rownorm(Ŵ - w v vᵀŴ)
// with n the row norms of W and Ŵ = rownorm(W) (method spec §5.3). Returns float32 [d, in].
torch::Tensor materialize(const torch::Tensor& weight, const torch::Tensor& v, double w,
                          config::RowNormalization mode);

}  // namespace abliterate::method
