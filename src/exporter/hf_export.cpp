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
#include "export_parts.hpp"

namespace abliterate::exporter {
namespace {

namespace fs = std::filesystem;
using detail::ablated_matrix_of;
using detail::AblatedMatrix;
using detail::kCardFile;
using detail::kRecordFile;
using detail::LayerEdits;
using detail::StagedFolder;
using detail::write_text;

// The model's files besides its weights, copied as they are when present:
// the HF table's and a SentencePiece or older tokenizer's.
constexpr const char* kCopiedFiles[] = {
    formats::kHfConfigFile,        formats::kHfGenerationConfigFile, formats::kHfTokenizerFile,
    formats::kHfTokenizerConfigFile, formats::kHfChatTemplateFile,   "tokenizer.model",
    "special_tokens_map.json",     "added_tokens.json",             "vocab.json",
    "merges.txt",
};

// Tensor names grouped into shards of at most `max_bytes` each (a larger
// tensor gets a shard of its own), in name order, as transformers shards.
std::vector<std::vector<std::string>> plan_shards(const model::HfCheckpoint& checkpoint,
                                                  const std::vector<std::string>& names, uint64_t max_bytes,
                                                  uint64_t* total_bytes) {
  std::vector<std::vector<std::string>> shards(1);
  uint64_t shard_bytes = 0;
  *total_bytes = 0;
  for (const std::string& name : names) {
    const formats::SafetensorsTensorInfo& info = checkpoint.info_of(name);
    const uint64_t bytes = info.data_end - info.data_begin;
    if (!shards.back().empty() && shard_bytes + bytes > max_bytes) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().push_back(name);
    shard_bytes += bytes;
    *total_bytes += bytes;
  }
  return shards;
}

std::string shard_file_name(size_t index, size_t count) {
  if (count == 1) return formats::kHfWeightsFile;
  return fmt::format("model-{:05d}-of-{:05d}.safetensors", index + 1, count);
}

std::string gigabytes(uint64_t bytes) { return fmt::format("{:.2f} GB", static_cast<double>(bytes) / 1e9); }

}  // namespace

nlohmann::json export_record(const dist::StoredStudy& study, const study::Trial& trial, const ExportOptions& options) {
  nlohmann::json record;
  record["abliterate_version"] = ABL_VERSION;
  record["store"] = study.store_path.string();
  record["study"] = study.study_name;
  record["trial"] = trial.number;
  record["job"] = options.job_path ? nlohmann::json(*options.job_path) : nlohmann::json();
  record["settings"] = config::job_to_json(study.job);
  record["inputs_fingerprint"] = study.fingerprint;
  record["max_shard_size"] = options.max_shard_bytes;
  record["parameters"] = study::ablation_user_attrs(study::ablation_params_from_user_attrs(trial.user_attrs));
  for (std::string_view key : {study::kKlDivergenceAttr, study::kRefusalsAttr, study::kBaseRefusalsAttr,
                               study::kNBadPromptsAttr}) {
    const auto it = trial.user_attrs.find(std::string(key));
    record["results"][std::string(key)] = it != trial.user_attrs.end() ? *it : nlohmann::json();
  }
  return record;
}

ExportSummary export_hf_folder(const dist::StoredStudy& study, const study::Trial& trial,
                               const ExportOptions& options) {
  const fs::path model_path = study.job.resolve_input(study.job.model);
  ABL_CHECK(fs::is_directory(model_path), InputError,
            "{}: export writes HF model folders from HF model folders; a GGUF input is not supported yet",
            model_path.string());
  const config::AblationParams params = study::ablation_params_from_user_attrs(trial.user_attrs);
  const model::ModelConfig config = model::ModelConfig::from_hf_folder(model_path);
  const LayerEdits edits = detail::layer_edits(study, params, config.n_layers);

  model::HfCheckpoint checkpoint = model::HfCheckpoint::open(model_path);
  std::optional<model::LoraAdapter> adapter;
  std::optional<model::AdaptedTensorSource> adapted;
  if (study.job.adapter) {
    adapter.emplace(model::LoraAdapter::open(study.job.resolve_input(*study.job.adapter)));
    adapted.emplace(checkpoint, *adapter);
  }
  model::TensorSource& source = adapted ? static_cast<model::TensorSource&>(*adapted) : checkpoint;
  const std::vector<std::string> names = checkpoint.unused_names();  // every tensor, in name order
  uint64_t total_bytes = 0;
  const std::vector<std::vector<std::string>> shards =
      plan_shards(checkpoint, names, options.max_shard_bytes, &total_bytes);

  StagedFolder folder(options.out, options.force);
  ExportSummary summary;
  summary.n_shards = static_cast<int64_t>(shards.size());
  nlohmann::json weight_map = nlohmann::json::object();
  const auto start = std::chrono::steady_clock::now();
  torch::NoGradGuard no_grad;
  for (size_t shard_idx = 0; shard_idx < shards.size(); ++shard_idx) {
    const std::string file = shard_file_name(shard_idx, shards.size());
    std::vector<formats::NamedTensor> tensors;
    for (const std::string& name : shards[shard_idx]) {
      const formats::SafetensorsTensorInfo& info = checkpoint.info_of(name);
      const torch::Dtype dtype = formats::to_torch_dtype(info.dtype);
      const std::optional<AblatedMatrix> matrix = ablated_matrix_of(name);
      ABL_CHECK(!matrix || matrix->layer < config.n_layers, FormatError, "{}: tensor '{}' is past the {} layers of {}",
                checkpoint.file_of(name), name, config.n_layers, formats::kHfConfigFile);
      const double weight = matrix ? edits.weight_of(*matrix) : 0;
      torch::Tensor tensor = source.take(name, info.shape, torch::TensorOptions().dtype(
                                                               weight != 0 ? torch::kFloat32 : dtype));
      if (weight != 0) {
        tensor = method::materialize(tensor, edits.directions[matrix->layer], weight, study.job.row_normalization)
                     .to(dtype);
        ++summary.n_ablated_matrices;
      }
      summary.weight_bytes += info.data_end - info.data_begin;
      tensors.push_back({name, tensor.contiguous()});
      weight_map[name] = file;
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
  for (const char* name : kCopiedFiles) {
    if (!fs::exists(model_path / name)) continue;
    std::error_code ec;
    fs::copy_file(model_path / name, folder.path() / name, ec);
    ABL_CHECK(!ec, IoError, "{}: cannot copy to {}: {}", (model_path / name).string(), folder.path().string(),
              ec.message());
  }

  write_text(folder.path() / kCardFile, format_model_card(detail::trial_card(study, trial, options)));
  write_text(folder.path() / kRecordFile, export_record(study, trial, options).dump(2) + "\n");
  folder.commit();
  return summary;
}

}  // namespace abliterate::exporter
