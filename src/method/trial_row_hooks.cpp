// TrialRowHooks: see include/abliterate/method/trial_row_hooks.hpp.
#include "abliterate/method/trial_row_hooks.hpp"

#include <algorithm>

#include "abliterate/common/error.hpp"

namespace abliterate::method {
namespace {

constexpr model::Projection kProjections[] = {model::Projection::attn_o_proj, model::Projection::mlp_down_proj};

// One projection of one layer: every trial's edit stacked, float32 [n_trials, d]
// each. A trial that leaves the layer alone has v = 0 (so y - (u·y) v = y),
// and s = 1 where a trial has no row scale.
struct StackedEdit {
  bool is_edited = false;  // some trial edits this layer
  bool has_row_scale = false;
  torch::Tensor u, v, row_scale;
};

StackedEdit stack_edits(const std::vector<const AblationHook*>& hooks, model::Projection which, int64_t layer_idx) {
  StackedEdit stacked;
  const AblationHook::LayerEdit* any_edit = nullptr;
  for (const AblationHook* hook : hooks) {
    const AblationHook::LayerEdit& edit = hook->edit(which, layer_idx);
    if (edit.weight == 0) continue;
    any_edit = &edit;
    stacked.has_row_scale = stacked.has_row_scale || edit.inv_row_scale.defined();
  }
  if (any_edit == nullptr) return stacked;
  stacked.is_edited = true;
  const torch::Tensor zeros = torch::zeros_like(any_edit->v);  // float32 [d]
  const torch::Tensor ones = torch::ones_like(any_edit->v);    // float32 [d]
  std::vector<torch::Tensor> u, v, row_scale;
  for (const AblationHook* hook : hooks) {
    const AblationHook::LayerEdit& edit = hook->edit(which, layer_idx);
    const bool is_edited = edit.weight != 0;
    u.push_back(is_edited ? edit.u : zeros);
    v.push_back(is_edited ? edit.v : zeros);
    row_scale.push_back(is_edited && edit.inv_row_scale.defined() ? edit.inv_row_scale : ones);
  }
  stacked.u = torch::stack(u);
  stacked.v = torch::stack(v);
  if (stacked.has_row_scale) stacked.row_scale = torch::stack(row_scale);
  return stacked;
}

}  // namespace

// The hook of a batch whose rows belong to several trials: the stacked edits,
// gathered per row whenever the rows change.
class TrialRowHooks::MixedRowsHook final : public model::ProjectionHook {
 public:
  explicit MixedRowsHook(const std::vector<const AblationHook*>& hooks) {
    const int64_t n_layers = hooks.front()->n_layers();
    for (const model::Projection which : kProjections) {
      std::vector<StackedEdit>& layers = stacked_[static_cast<size_t>(which)];
      for (int64_t layer_idx = 0; layer_idx < n_layers; ++layer_idx) {
        layers.push_back(stack_edits(hooks, which, layer_idx));
      }
    }
  }

  void gather(const std::vector<int64_t>& row_slots) {
    if (row_slots == slots_) return;
    slots_ = row_slots;
    torch::Tensor index;  // int64 [B] on the edits' device, made at the first edited layer
    for (const model::Projection which : kProjections) {
      const std::vector<StackedEdit>& layers = stacked_[static_cast<size_t>(which)];
      std::vector<StackedEdit>& rows = per_row_[static_cast<size_t>(which)];
      rows.assign(layers.size(), StackedEdit{});
      for (size_t layer_idx = 0; layer_idx < layers.size(); ++layer_idx) {
        const StackedEdit& stacked = layers[layer_idx];
        if (!stacked.is_edited) continue;
        if (!index.defined()) {
          index = torch::tensor(row_slots, torch::TensorOptions().dtype(torch::kInt64)).to(stacked.u.device());
        }
        StackedEdit& row = rows[layer_idx];
        row.is_edited = true;
        row.has_row_scale = stacked.has_row_scale;
        row.u = stacked.u.index_select(0, index).unsqueeze(1);  // float32 [B, 1, d]
        row.v = stacked.v.index_select(0, index).unsqueeze(1);  // float32 [B, 1, d]
        if (stacked.has_row_scale) row.row_scale = stacked.row_scale.index_select(0, index).unsqueeze(1);
      }
    }
  }

  torch::Tensor apply(model::Projection which, int64_t layer_idx, const torch::Tensor& y) const override {
    const StackedEdit& row = per_row_[static_cast<size_t>(which)].at(static_cast<size_t>(layer_idx));
    if (!row.is_edited) return y;
    ABL_ASSERT(y.size(0) == row.u.size(0), "a batch of {} rows for {} row slots", y.size(0), row.u.size(0));
    // As AblationHook::apply, in float32, each row with its own vectors.
    const torch::Tensor y32 = y.to(torch::kFloat32);                            // float32 [B, T, d]
    const torch::Tensor coefficient = (y32 * row.u).sum(-1, /*keepdim=*/true);  // float32 [B, T, 1]
    torch::Tensor out = y32 - coefficient * row.v;                              // float32 [B, T, d]
    if (row.has_row_scale) out = out * row.row_scale;
    return out.to(y.scalar_type());
  }

 private:
  std::vector<StackedEdit> stacked_[2];  // by Projection, then layer
  std::vector<StackedEdit> per_row_[2];  // the same, gathered for slots_
  std::vector<int64_t> slots_;
};

TrialRowHooks::TrialRowHooks(std::vector<const AblationHook*> trial_hooks) : trial_hooks_(std::move(trial_hooks)) {
  ABL_ASSERT(!trial_hooks_.empty(), "TrialRowHooks needs at least one trial");
}

TrialRowHooks::~TrialRowHooks() = default;

const model::ProjectionHook* TrialRowHooks::for_rows(const std::vector<int64_t>& row_slots) {
  ABL_ASSERT(!row_slots.empty(), "for_rows of an empty batch");
  for (const int64_t slot : row_slots) {
    ABL_ASSERT(slot >= 0 && slot < static_cast<int64_t>(trial_hooks_.size()), "row slot {} of {} trials", slot,
               trial_hooks_.size());
  }
  const bool is_one_trial =
      std::all_of(row_slots.begin(), row_slots.end(), [&](int64_t slot) { return slot == row_slots.front(); });
  if (is_one_trial) return trial_hooks_[static_cast<size_t>(row_slots.front())];
  // Built on the first mixed batch: a study whose batches never mix pays nothing.
  if (!mixed_) {
    c10::InferenceMode guard;
    mixed_ = std::make_unique<MixedRowsHook>(trial_hooks_);
  }
  {
    c10::InferenceMode guard;
    mixed_->gather(row_slots);
  }
  return mixed_.get();
}

}  // namespace abliterate::method
