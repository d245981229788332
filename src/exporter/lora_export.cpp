#include "abliterate/exporter/lora_export.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "abliterate/common/error.hpp"
#include "abliterate/formats/safetensors_writer.hpp"
#include "abliterate/method/ablation.hpp"
#include "abliterate/model/hf_checkpoint.hpp"
#include "abliterate/model/lora_adapter.hpp"
#include "abliterate/model/model_config.hpp"
#include "abliterate/study/search_space.hpp"
#include "export_parts.hpp"

namespace abliterate::exporter {
namespace {

namespace fs = std::filesystem;

// F.normalize's eps, as method::materialize uses it.
constexpr double kNormEps = 1e-12;

// One matrix's update W' - W = -B·A, as PEFT stores it: B [out, r], A [r, in]
// (the sign folded into B).
struct LoraPair {
  torch::Tensor a;
  torch::Tensor b;
  double relative_error = 0;
};

LoraPair lora_pair(const torch::Tensor& weight, const torch::Tensor& v, double w, config::RowNormalization mode,
                   int64_t full_rank) {
  if (mode == config::RowNormalization::none) {  // W' = W - w v (vᵀW)
    return {v.matmul(weight).unsqueeze(0), (-w * v).unsqueeze(1)};
  }
  if (mode == config::RowNormalization::pre) {  // W' = W - w (n⊙v) ((v⊘n)ᵀW)
    const torch::Tensor norms = weight.norm(2, 1);
    return {(v / norms.clamp_min(kNormEps)).matmul(weight).unsqueeze(0), (-w * norms * v).unsqueeze(1)};
  }
  const torch::Tensor delta = method::materialize(weight, v, w, mode) - weight;  // float32 [out, in]
  const auto [u, s, vh] = torch::linalg_svd(delta.to(torch::kFloat64), /*full_matrices=*/false);
  const int64_t r = std::min<int64_t>(full_rank, s.size(0));
  const torch::Tensor b = (u.slice(1, 0, r) * s.slice(0, 0, r)).to(torch::kFloat32);  // [out, r]
  const torch::Tensor a = vh.slice(0, 0, r).to(torch::kFloat32);                       // [r, in]
  const double delta_norm = delta.norm().item<double>();
  const double error = delta_norm > 0 ? (delta - b.matmul(a)).norm().item<double>() / delta_norm : 0;
  return {a, b, error};
}

// PEFT's adapter_config.json for `rank` on o_proj and down_proj, alpha = r so
// that the scale alpha/r is 1.
nlohmann::json adapter_config(const fs::path& model_path, int64_t rank) {
  return {{"peft_type", "LORA"},
          {"task_type", "CAUSAL_LM"},
          {"base_model_name_or_path", model_path.string()},
          {"r", rank},
          {"lora_alpha", rank},
          {"lora_dropout", 0.0},
          {"target_modules", {"o_proj", "down_proj"}},
          {"bias", "none"},
          {"fan_in_fan_out", false},
          {"use_rslora", false},
          {"use_dora", false},
          {"init_lora_weights", true},
          {"inference_mode", true},
          {"modules_to_save", nullptr},
          {"rank_pattern", nlohmann::json::object()},
          {"alpha_pattern", nlohmann::json::object()}};
}

}  // namespace

LoraExportSummary export_lora_adapter(const runner::StoredStudy& study, const study::Trial& trial,
                                      const ExportOptions& options, int64_t full_rank) {
  const fs::path model_path = study.job.resolve_input(study.job.model);
  ABL_CHECK(fs::is_directory(model_path), InputError,
            "{}: export writes adapters for HF model folders; a GGUF input is not supported yet", model_path.string());
  ABL_CHECK(!study.job.adapter, InputError,
            "{}: the study's model has an adapter of its own; export --adapter writes an update of the original "
            "weights, so export the full model instead",
            study.job.source_path.string());
  ABL_CHECK(full_rank >= 1, InputError, "--adapter-rank: expected a rank >= 1, got {}", full_rank);
  const config::RowNormalization mode = study.job.row_normalization;
  const config::AblationParams params = study::ablation_params_from_user_attrs(trial.user_attrs);
  const model::ModelConfig config = model::ModelConfig::from_hf_folder(model_path);
  const detail::LayerEdits edits = detail::layer_edits(study, params, config.n_layers);
  const int64_t rank = mode == config::RowNormalization::full ? full_rank : 1;

  model::HfCheckpoint checkpoint = model::HfCheckpoint::open(model_path);
  LoraExportSummary summary;
  summary.rank = rank;
  std::vector<formats::NamedTensor> tensors;
  torch::NoGradGuard no_grad;
  for (const std::string& name : checkpoint.unused_names()) {
    const std::optional<detail::AblatedMatrix> matrix = detail::ablated_matrix_of(name);
    if (!matrix) continue;
    ABL_CHECK(matrix->layer < config.n_layers, FormatError, "{}: tensor '{}' is past the model's {} layers",
              checkpoint.file_of(name), name, config.n_layers);
    const formats::SafetensorsTensorInfo& info = checkpoint.info_of(name);
    const double w = edits.weight_of(*matrix);
    LoraPair pair;
    if (w == 0) {  // every target module gets its pair; an untouched one a zero update
      pair = {torch::zeros({rank, info.shape.at(1)}), torch::zeros({info.shape.at(0), rank})};
    } else {
      const torch::Tensor weight = checkpoint.take(name, info.shape, torch::TensorOptions().dtype(torch::kFloat32));
      pair = lora_pair(weight, edits.directions[matrix->layer], w, mode, rank);
      if (pair.a.size(0) < rank) {  // a matrix smaller than r: pad with zero directions
        pair.a = torch::cat({pair.a, torch::zeros({rank - pair.a.size(0), pair.a.size(1)})});
        pair.b = torch::cat({pair.b, torch::zeros({pair.b.size(0), rank - pair.b.size(1)})}, 1);
      }
      ++summary.n_matrices;
      summary.max_relative_error = std::max(summary.max_relative_error, pair.relative_error);
    }
    const std::string module = "base_model.model." + name.substr(0, name.size() - std::string(".weight").size());
    tensors.push_back({module + ".lora_A.weight", pair.a.contiguous()});
    tensors.push_back({module + ".lora_B.weight", pair.b.contiguous()});
  }
  std::sort(tensors.begin(), tensors.end(),
            [](const formats::NamedTensor& x, const formats::NamedTensor& y) { return x.name < y.name; });

  detail::StagedFolder folder(options.out, options.force);
  formats::write_safetensors(folder.path() / model::kAdapterWeightsFile, tensors);
  detail::write_text(folder.path() / model::kAdapterConfigFile, adapter_config(model_path, rank).dump(2) + "\n");
  detail::finish_export(folder, study, trial, options, {{"export", "adapter"}, {"adapter_full_rank", full_rank}});
  return summary;
}

}  // namespace abliterate::exporter
