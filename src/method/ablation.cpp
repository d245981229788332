// Ablation as a hook on o_proj / down_proj outputs, and the same update
// materialized into a weight. See Note [Ablation on output projections] in
// ablation.hpp, DESIGN.md §3 and method spec §5.2-5.3.
#include "abliterate/method/ablation.hpp"

#include "abliterate/common/error.hpp"
#include "abliterate/method/directions.hpp"
#include "abliterate/method/layer_weights.hpp"

namespace abliterate::method {
namespace {

namespace F = torch::nn::functional;

// F.normalize's eps: a zero row of W stays zero in Ŵ = rownorm(W), as in Heretic.
constexpr double kNormEps = 1e-12;

// Precomputes one layer's edit from its float32 [d, in] weight W and unit
// direction v (float32 [d]), for weight w != 0.
//
// With n = row norms of W, Ŵ = diag(1/n) W and y = W x:
//   pre:  W' = diag(n)(I - w v vᵀ)Ŵ = W - w (n⊙v)(v⊘n)ᵀ W
//         so y' = y - w (n⊙v) ((v⊘n)ᵀ y).
//   full: W̃ = Ŵ - w v vᵀŴ = diag(1/n) W'_pre, and W' = diag(n) rownorm(W̃)
//         = diag(1/m) W'_pre with m_i = ||W̃_i||, so y' = y'_pre ⊘ m.
//   With a = vᵀŴ = (v⊘n)ᵀ W (float32 [in]) and ||Ŵ_i|| = 1:
//         m_i² = 1 - 2 w v_i (Ŵ a)_i + w² v_i² ||a||²,
//   two matrix-vector products instead of a copy of W.
// Zero rows (n_i = 0) follow F.normalize's eps: u_i is huge but y_i is
// exactly 0 there, and ||Ŵ_i||² is 0, not 1.
struct EditVectors {
  torch::Tensor scaled_v;       // float32 [d]: w·v (none) or w·(n⊙v) (pre/full)
  torch::Tensor u;              // float32 [d]: v (none) or v⊘n (pre/full)
  torch::Tensor inv_row_scale;  // float32 [d]: 1/m (full); undefined otherwise
};

EditVectors edit_vectors(const torch::Tensor& weight, const torch::Tensor& v, double w,
                         config::RowNormalization mode) {
  EditVectors edit;
  if (mode == config::RowNormalization::none) {
    edit.scaled_v = w * v;
    edit.u = v;
    return edit;
  }
  const torch::Tensor row_norms = weight.norm(2, 1);                     // float32 [d], n
  const torch::Tensor safe_norms = row_norms.clamp_min(kNormEps);        // float32 [d]
  edit.scaled_v = w * row_norms * v;
  edit.u = v / safe_norms;
  if (mode == config::RowNormalization::full) {
    const torch::Tensor a = weight.t().mv(edit.u);                       // float32 [in], vᵀŴ
    const torch::Tensor normed_a = weight.mv(a) / safe_norms;            // float32 [d], Ŵ a
    const torch::Tensor unit_sq = (row_norms / safe_norms).square();     // float32 [d], ||Ŵ_i||²
    const torch::Tensor m_sq = unit_sq - 2 * w * v * normed_a + (w * w) * v.square() * a.dot(a);
    edit.inv_row_scale = m_sq.clamp_min(0).sqrt().clamp_min(kNormEps).reciprocal();
  }
  return edit;
}

}  // namespace

AblationHook::AblationHook(const model::Model& model, const torch::Tensor& directions,
                           const config::AblationParams& params, config::RowNormalization mode) {
  // The edit vectors are only ever read (in apply), so they may be inference tensors.
  c10::InferenceMode guard;
  const model::ModelConfig& config = model.config();
  ABL_CHECK(directions.dim() == 2 && directions.size(0) == config.n_layers + 1 &&
                directions.size(1) == config.hidden_size,
            InputError, "refusal directions: expected shape [{}, {}] for this model, got {}", config.n_layers + 1,
            config.hidden_size, c10::str(directions.sizes()));
  // float32 [L, d] on the model's device: the direction of every layer.
  const torch::Tensor per_layer = layer_directions(directions, params.direction_index).to(model.device());

  const auto build = [&](model::Projection which, const config::ComponentParams& component) {
    const std::vector<double> weights = layer_weights(component, config.n_layers);
    std::vector<LayerEdit> edits(weights.size());
    for (int64_t layer_idx = 0; layer_idx < config.n_layers; ++layer_idx) {
      LayerEdit& edit = edits[static_cast<size_t>(layer_idx)];
      edit.weight = weights[static_cast<size_t>(layer_idx)];
      if (edit.weight == 0) continue;
      // The weight is only read for row norms; none needs no weight at all.
      torch::Tensor weight;  // float32 [d, in]
      if (mode != config::RowNormalization::none) {
        weight = model.projection_weight(which, layer_idx).to(torch::kFloat32);
        ABL_CHECK(weight.dim() == 2 && weight.size(0) == config.hidden_size, InputError,
                  "{} of layer {}: expected a weight of shape [{}, in], got {}", model::to_string(which), layer_idx,
                  config.hidden_size, c10::str(weight.sizes()));
      }
      EditVectors vectors = edit_vectors(weight, per_layer[layer_idx], edit.weight, mode);
      edit.v = std::move(vectors.scaled_v);
      edit.u = std::move(vectors.u);
      edit.inv_row_scale = std::move(vectors.inv_row_scale);
    }
    return edits;
  };
  attn_ = build(model::Projection::attn_o_proj, params.attn_o_proj);
  mlp_ = build(model::Projection::mlp_down_proj, params.mlp_down_proj);
}

const AblationHook::LayerEdit& AblationHook::edit(model::Projection which, int64_t layer_idx) const {
  const std::vector<LayerEdit>& edits = which == model::Projection::attn_o_proj ? attn_ : mlp_;
  ABL_ASSERT(layer_idx >= 0 && layer_idx < static_cast<int64_t>(edits.size()), "layer {} out of range [0, {})",
             layer_idx, edits.size());
  return edits[static_cast<size_t>(layer_idx)];
}

torch::Tensor AblationHook::apply(model::Projection which, int64_t layer_idx, const torch::Tensor& y) const {
  const LayerEdit& edit = this->edit(which, layer_idx);
  if (edit.weight == 0) return y;
  // Computed in float32 and cast back, as PEFT adds a float32 LoRA term to a
  // bf16 base output before casting the sum back (method spec §5.3).
  const torch::Tensor y32 = y.to(torch::kFloat32);                              // float32 [B, T, d]
  const torch::Tensor coefficient = torch::matmul(y32, edit.u).unsqueeze(-1);   // float32 [B, T, 1]
  torch::Tensor out = y32 - coefficient * edit.v;                               // float32 [B, T, d]
  if (edit.inv_row_scale.defined()) out = out * edit.inv_row_scale;
  return out.to(y.scalar_type());
}

torch::Tensor materialize(const torch::Tensor& weight, const torch::Tensor& v, double w,
                          config::RowNormalization mode) {
  ABL_ASSERT(weight.dim() == 2 && v.dim() == 1 && v.size(0) == weight.size(0),
             "materialize: weight [d, in] and v [d] expected, got {} and {}", c10::str(weight.sizes()),
             c10::str(v.sizes()));
  torch::NoGradGuard no_grad;  // not InferenceMode: export may update the result in place
  const torch::Tensor w32 = weight.to(torch::kFloat32);                   // float32 [d, in], W
  const torch::Tensor v32 = v.to(w32.device(), torch::kFloat32);          // float32 [d]
  const auto project = [&](const torch::Tensor& matrix) {                // (I - w v vᵀ) matrix
    return matrix - w * torch::outer(v32, v32.matmul(matrix));
  };
  if (mode == config::RowNormalization::none) return project(w32);
  const torch::Tensor row_norms = w32.norm(2, 1, /*keepdim=*/true);      // float32 [d, 1], n
  const torch::Tensor normed = F::normalize(w32, F::NormalizeFuncOptions().p(2).dim(1).eps(kNormEps));  // Ŵ
  if (mode == config::RowNormalization::pre) return row_norms * project(normed);
  return row_norms * F::normalize(project(normed), F::NormalizeFuncOptions().p(2).dim(1).eps(kNormEps));
}

}  // namespace abliterate::method
