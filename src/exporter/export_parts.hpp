// The parts that every kind of export shares (src/exporter only): which
// tensors the ablation edits and how, the folder written under a temporary
// name, the model card of a trial, and small file helpers.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "abliterate/config/ablation_params.hpp"
#include "abliterate/runner/stored_study.hpp"
#include "abliterate/exporter/hf_export.hpp"
#include "abliterate/exporter/model_card.hpp"
#include "abliterate/study/trial.hpp"

namespace abliterate::exporter::detail {

inline constexpr const char* kCardFile = "README.md";
inline constexpr const char* kRecordFile = "abliterate.json";

// One matrix the ablation edits: which projection of which layer.
struct AblatedMatrix {
  bool is_attention = false;  // o_proj, else down_proj
  int64_t layer = 0;
};

// "model.layers.3.self_attn.o_proj.weight" (any text prefix) -> {attention, 3};
// nullopt for every tensor the ablation leaves alone.
std::optional<AblatedMatrix> ablated_matrix_of(const std::string& name);

// The edit of every layer: its direction and each component's weights.
struct LayerEdits {
  torch::Tensor directions;                // float32 [L, d]
  std::vector<double> attention_weights;   // [L]
  std::vector<double> mlp_weights;         // [L]

  double weight_of(const AblatedMatrix& matrix) const {
    return (matrix.is_attention ? attention_weights : mlp_weights).at(static_cast<size_t>(matrix.layer));
  }
};
LayerEdits layer_edits(const runner::StoredStudy& study, const config::AblationParams& params, int64_t n_layers);


// Throws IoError naming `path` when the write fails (a full disk).
void write_text(const std::filesystem::path& path, const std::string& text);

class StagedFolder;
// The end of every export: the card (README.md) and abliterate.json (the
// record, with `extra` keys naming the kind of export) written into `folder`,
// which then goes in place.
void finish_export(StagedFolder& folder, const runner::StoredStudy& study, const study::Trial& trial,
                   const ExportOptions& options, const nlohmann::json& extra = nlohmann::json::object());

// The export's folder while it is written: beside the final one, removed
// unless commit() renamed it into place.
class StagedFolder {
 public:
  // Throws InputError when `final_path` exists (unless force) or its parent does not.
  StagedFolder(std::filesystem::path final_path, bool force);
  StagedFolder(const StagedFolder&) = delete;
  StagedFolder& operator=(const StagedFolder&) = delete;
  ~StagedFolder();

  const std::filesystem::path& path() const { return staging_; }
  // Puts the finished folder in place; an old one (force) goes only now.
  void commit();

 private:
  std::filesystem::path final_;
  std::filesystem::path staging_;
  bool committed_ = false;
};

}  // namespace abliterate::exporter::detail
