#include "export_parts.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "abliterate/common/error.hpp"
#include "abliterate/config/job_loader.hpp"
#include "abliterate/formats/json_file.hpp"
#include "abliterate/method/directions.hpp"
#include "abliterate/method/layer_weights.hpp"
#include "abliterate/model/tensor_names.hpp"
#include "abliterate/study/attribute_names.hpp"
#include "abliterate/study/search_space.hpp"

namespace abliterate::exporter::detail {
namespace {

namespace fs = std::filesystem;

// A count of the card; Optuna-written stores may hold it as a float (25.0).
int64_t attr_integer(const study::Trial& trial, std::string_view key) {
  return study::integer_attr(trial.user_attrs, key).value_or(0);
}

// The model card of `trial` (the job as YAML: the --job file, else the settings).
ModelCard trial_card(const runner::StoredStudy& study, const study::Trial& trial, const ExportOptions& options) {
  const fs::path model_path = study.job.resolve_input(study.job.model);
  ModelCard card;
  card.original_model = model_path.filename().string();
  card.tool_version = ABL_VERSION;
  card.job_yaml =
      options.job_path ? formats::read_text_file(*options.job_path) : config::job_to_json(study.job).dump(2);
  card.params = study::ablation_params_from_user_attrs(trial.user_attrs);
  card.kl_divergence = trial.user_attrs.at(std::string(study::kKlDivergenceAttr)).get<double>();
  card.refusals = attr_integer(trial, study::kRefusalsAttr);
  card.base_refusals = attr_integer(trial, study::kBaseRefusalsAttr);
  card.n_bad_prompts = attr_integer(trial, study::kNBadPromptsAttr);
  if (fs::exists(model_path / kCardFile)) card.original_card = formats::read_text_file(model_path / kCardFile);
  return card;
}

}  // namespace

std::optional<AblatedMatrix> ablated_matrix_of(const std::string& name) {
  for (const char* prefix : {model::kHfTextPrefix, model::kHfTextPrefixMultimodal, model::kHfTextPrefixMultimodalOld}) {
    const std::string head = std::string(prefix) + "layers.";
    if (!name.starts_with(head)) continue;
    const size_t dot = name.find('.', head.size());
    if (dot == std::string::npos || dot == head.size()) return std::nullopt;
    const std::string layer = name.substr(head.size(), dot - head.size());
    if (!std::all_of(layer.begin(), layer.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
    const std::string suffix = name.substr(dot + 1);
    if (suffix == model::hf_layer_suffix(model::LayerTensor::o_proj)) return AblatedMatrix{true, std::stoll(layer)};
    if (suffix == model::hf_layer_suffix(model::LayerTensor::down_proj)) return AblatedMatrix{false, std::stoll(layer)};
    return std::nullopt;
  }
  return std::nullopt;
}

LayerEdits layer_edits(const runner::StoredStudy& study, const config::AblationParams& params, int64_t n_layers) {
  return {method::layer_directions(study.preparation.directions, params.direction_index),
          method::layer_weights(params.attn_o_proj, n_layers), method::layer_weights(params.mlp_down_proj, n_layers)};
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  ABL_CHECK(out.good(), IoError, "{}: cannot write (disk full?)", path.string());
}

StagedFolder::StagedFolder(fs::path final_path, bool force) : final_(std::move(final_path)) {
  const fs::path parent = final_.has_parent_path() ? final_.parent_path() : fs::path(".");
  ABL_CHECK(fs::is_directory(parent), InputError, "{}: the folder it goes in does not exist", final_.string());
  ABL_CHECK(force || !fs::exists(final_), InputError,
            "{}: already exists; choose another --out, or --force to replace it", final_.string());
  staging_ = parent / fmt::format(".{}.partial-{}", final_.filename().string(), ::getpid());
  fs::remove_all(staging_);
  fs::create_directory(staging_);
}

StagedFolder::~StagedFolder() {
  std::error_code ignored;
  if (!committed_) fs::remove_all(staging_, ignored);
}

void StagedFolder::commit() {
  std::error_code ec;
  if (fs::exists(final_)) {
    const fs::path old = staging_.string() + ".old";
    fs::rename(final_, old, ec);
    ABL_CHECK(!ec, IoError, "{}: cannot move the old folder aside: {}", final_.string(), ec.message());
    fs::rename(staging_, final_, ec);
    ABL_CHECK(!ec, IoError, "{}: cannot rename {} into place: {}", final_.string(), staging_.string(), ec.message());
    fs::remove_all(old, ec);
  } else {
    fs::rename(staging_, final_, ec);
    ABL_CHECK(!ec, IoError, "{}: cannot rename {} into place: {}", final_.string(), staging_.string(), ec.message());
  }
  committed_ = true;
}

void finish_export(StagedFolder& folder, const runner::StoredStudy& study, const study::Trial& trial,
                   const ExportOptions& options, const nlohmann::json& extra) {
  write_text(folder.path() / kCardFile, format_model_card(trial_card(study, trial, options)));
  nlohmann::json record = export_record(study, trial, options);
  record.update(extra);
  write_text(folder.path() / kRecordFile, record.dump(2) + "\n");
  folder.commit();
}

}  // namespace abliterate::exporter::detail
