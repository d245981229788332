// Several trials' ablations in one batch (the job's trials_per_worker): row r
// of a batch is ablated as its own trial says.
//
// The edit of Note [Ablation on output projections] is per row already:
// y_r <- (y_r - v (u·y_r)) * s touches row r alone, so rows of different
// trials only need their own u, v and s. A batch whose rows all belong to one
// trial gets that trial's AblationHook itself; a mixed batch gets a hook whose
// vectors are gathered per row from the trials' stacked edits, [B, 1, d].
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <torch/torch.h>

#include "abliterate/method/ablation.hpp"
#include "abliterate/model/projection_hook.hpp"

namespace abliterate::method {

class TrialRowHooks final : public model::RowHooks {
 public:
  // Slot t is trial_hooks[t]; the hooks must outlive this object.
  explicit TrialRowHooks(std::vector<const AblationHook*> trial_hooks);
  ~TrialRowHooks() override;

  const model::ProjectionHook* for_rows(const std::vector<int64_t>& row_slots) override;

 private:
  class MixedRowsHook;
  std::vector<const AblationHook*> trial_hooks_;
  std::unique_ptr<MixedRowsHook> mixed_;
};

}  // namespace abliterate::method
