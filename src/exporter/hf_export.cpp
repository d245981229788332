#include "abliterate/exporter/hf_export.hpp"

#include <fmt/format.h>

#include <chrono>
#include <vector>

#include "abliterate/common/duration.hpp"
#include "abliterate/common/error.hpp"
#include "abliterate/config/job_loader.hpp"
#include "abliterate/formats/hf_folder.hpp"
#include "abliterate/formats/safetensors_reader.hpp"
#include "abliterate/formats/safetensors_writer.hpp"
#include "abliterate/method/ablation.hpp"
#include "abliterate/model/hf_checkpoint.hpp"
#include "abliterate/model/lora_adapter.hpp"
#include "abliterate/model/model_config.hpp"
#include "abliterate/study/attribute_names.hpp"
#include "abliterate/study/search_space.hpp"
#include "export_input.hpp"
#include "export_parts.hpp"

namespace abliterate::exporter {
namespace {

namespace fs = std::filesystem;
using detail::ablated_matrix_of;
using detail::AblatedMatrix;
using detail::LayerEdits;
using detail::OutputTensor;
using detail::StagedFolder;
using detail::write_text;

// Tensors grouped into shards of at most `max_bytes` each (a larger tensor
// gets a shard of its own), in name order, as transformers shards.
std::vector<std::vector<OutputTensor>> plan_shards(const std::vector<OutputTensor>& tensors, uint64_t max_bytes) {
  std::vector<std::vector<OutputTensor>> shards(1);
  uint64_t shard_bytes = 0;
  for (const OutputTensor& tensor : tensors) {
    if (!shards.back().empty() && shard_bytes + tensor.bytes > max_bytes) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().push_back(tensor);
    shard_bytes += tensor.bytes;
  }
  return shards;
}

std::string shard_file_name(size_t index, size_t count) {
  if (count == 1) return formats::kHfWeightsFile;
  return fmt::format("model-{:05d}-of-{:05d}.safetensors", index + 1, count);
}

std::string gigabytes(uint64_t bytes) { return fmt::format("{:.2f} GB", static_cast<double>(bytes) / 1e9); }

}  // namespace

nlohmann::json export_record(const runner::StoredStudy& study, const study::Trial& trial, const ExportOptions& options) {
  nlohmann::json record;
  record["abliterate_version"] = ABL_VERSION;
  record["store"] = study.store_path.string();
  record["study"] = study.study_name;
  record["trial"] = trial.number;
  record["job"] = options.job_path ? nlohmann::json(*options.job_path) : nlohmann::json();
  record["settings"] = config::job_to_json(study.job);
  record["inputs_fingerprint"] = study.fingerprint;
  record["max_shard_size"] = options.max_shard_bytes;
  record["dtype"] = options.dtype ? nlohmann::json(config::to_string(*options.dtype)) : nlohmann::json();
  record["parameters"] = study::ablation_user_attrs(study::ablation_params_from_user_attrs(trial.user_attrs));
  for (std::string_view key : {study::kKlDivergenceAttr, study::kRefusalsAttr, study::kBaseRefusalsAttr,
                               study::kNBadPromptsAttr}) {
    const auto it = trial.user_attrs.find(std::string(key));
    record["results"][std::string(key)] = it != trial.user_attrs.end() ? *it : nlohmann::json();
  }
  return record;
}

ExportSummary export_hf_folder(const runner::StoredStudy& study, const study::Trial& trial,
                               const ExportOptions& options) {
  const config::AblationParams params = study::ablation_params_from_user_attrs(trial.user_attrs);
  std::optional<fs::path> adapter_path;
  if (study.job.adapter) adapter_path = study.job.resolve_input(*study.job.adapter);
  detail::ExportInput input(study.job.resolve_input(study.job.model), adapter_path, options.dtype);
  const model::ModelConfig& config = input.config();
  const LayerEdits edits = detail::layer_edits(study, params, config.n_layers);
  const std::vector<std::vector<OutputTensor>> shards = plan_shards(input.tensors(), options.max_shard_bytes);
  uint64_t total_bytes = 0;
  for (const OutputTensor& tensor : input.tensors()) total_bytes += tensor.bytes;

  StagedFolder folder(options.out, options.force);
  ExportSummary summary;
  summary.n_shards = static_cast<int64_t>(shards.size());
  nlohmann::json weight_map = nlohmann::json::object();
  const auto start = std::chrono::steady_clock::now();
  torch::NoGradGuard no_grad;
  for (size_t shard_idx = 0; shard_idx < shards.size(); ++shard_idx) {
    const std::string file = shard_file_name(shard_idx, shards.size());
    std::vector<formats::NamedTensor> tensors;
    for (const OutputTensor& output : shards[shard_idx]) {
      const std::optional<AblatedMatrix> matrix = ablated_matrix_of(output.name);
      ABL_CHECK(!matrix || matrix->layer < config.n_layers, FormatError, "{}: tensor '{}' is past the model's {} layers",
                input.file_of(output.name), output.name, config.n_layers);
      const double weight = matrix ? edits.weight_of(*matrix) : 0;
      torch::Tensor tensor = input.take(output, weight != 0 ? torch::kFloat32 : output.dtype);
      if (weight != 0) {
        tensor = method::materialize(tensor, edits.directions[matrix->layer], weight, study.job.row_normalization)
                     .to(output.dtype);
        ++summary.n_ablated_matrices;
      }
      summary.weight_bytes += output.bytes;
      tensors.push_back({output.name, tensor.contiguous()});
      weight_map[output.name] = file;
    }
    formats::write_safetensors(folder.path() / file, tensors);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double eta = seconds / static_cast<double>(summary.weight_bytes) *
                       static_cast<double>(total_bytes - summary.weight_bytes);
    fmt::print("* Wrote {} ({} of {}, {}; ETA {})\n", file, gigabytes(summary.weight_bytes), gigabytes(total_bytes),
               format_duration(seconds), format_duration(eta));
  }
  if (shards.size() > 1) {
    const nlohmann::json index = {{"metadata", {{"total_size", total_bytes}}}, {"weight_map", weight_map}};
    write_text(folder.path() / formats::kHfWeightsIndexFile, index.dump(2) + "\n");
  }
  input.write_side_files(folder.path());

  detail::finish_export(folder, study, trial, options);
  return summary;
}

}  // namespace abliterate::exporter
