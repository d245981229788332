#include "abliterate/exporter/gguf_export.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "abliterate/common/duration.hpp"

#include "abliterate/common/error.hpp"
#include "abliterate/formats/gguf_writer.hpp"
#include "abliterate/method/ablation.hpp"
#include "abliterate/model/gguf_tensor_names.hpp"
#include "abliterate/study/search_space.hpp"
#include "export_input.hpp"
#include "export_parts.hpp"

namespace abliterate::exporter {
namespace {

namespace fs = std::filesystem;

// The types --gguf writes and llama.cpp's general.file_type (LLAMA_FTYPE_*) of a file mostly in them.
struct GgufExportType {
  formats::GgmlType type;
  const char* name;
  uint32_t file_type;
};
constexpr GgufExportType kGgufExportTypes[] = {
    {formats::GgmlType::f32, "F32", 0},
    {formats::GgmlType::f16, "F16", 1},
    {formats::GgmlType::q8_0, "Q8_0", 7},
    {formats::GgmlType::bf16, "BF16", 32},
};

const GgufExportType& export_type_of(formats::GgmlType type) {
  for (const GgufExportType& entry : kGgufExportTypes) {
    if (entry.type == type) return entry;
  }
  throw InputError(fmt::format("--gguf: type {} is not written (expected F32, F16, BF16 or Q8_0)",
                               formats::ggml_type_traits(type).name));
}

// A tensor's type in the file: norms and other 1-D tensors stay F32.
formats::GgmlType type_for(const std::vector<int64_t>& shape, formats::GgmlType wanted) {
  if (shape.size() < 2) return formats::GgmlType::f32;
  if (wanted == formats::GgmlType::q8_0 && shape.back() % 32 != 0) return formats::GgmlType::f16;
  return wanted;
}

std::vector<uint8_t> encode(const torch::Tensor& values, formats::GgmlType type) {
  if (type == formats::GgmlType::q8_0) {
    const torch::Tensor flat = values.contiguous().view(-1);
    return formats::quantize_q8_0({flat.data_ptr<float>(), static_cast<size_t>(flat.numel())});
  }
  const torch::Dtype dtype = type == formats::GgmlType::f16    ? torch::kHalf
                             : type == formats::GgmlType::bf16 ? torch::kBFloat16
                                                               : torch::kFloat32;
  const torch::Tensor converted = values.to(dtype).contiguous();
  const auto* begin = static_cast<const uint8_t*>(converted.data_ptr());
  return {begin, begin + converted.numel() * converted.element_size()};
}

}  // namespace

std::optional<formats::GgmlType> parse_gguf_export_type(const std::string& text) {
  for (const GgufExportType& entry : kGgufExportTypes) {
    if (text == entry.name) return entry.type;
  }
  return std::nullopt;
}

ExportSummary export_gguf_file(const runner::StoredStudy& study, const study::Trial& trial, const ExportOptions& options,
                               formats::GgmlType type) {
  const GgufExportType& written = export_type_of(type);
  const fs::path model_path = study.job.resolve_input(study.job.model);
  ABL_CHECK(!fs::is_directory(model_path), InputError,
            "{}: export --gguf writes GGUF files from GGUF models (their metadata is copied); this is an HF folder",
            model_path.string());
  std::optional<fs::path> adapter_path;
  if (study.job.adapter) adapter_path = study.job.resolve_input(*study.job.adapter);
  detail::ExportInput input(model_path, adapter_path, config::DType::float32);
  const model::GgufCheckpoint& checkpoint = *input.gguf();
  const formats::GgufReader& reader = checkpoint.reader();
  const config::AblationParams params = study::ablation_params_from_user_attrs(trial.user_attrs);
  const detail::LayerEdits edits = detail::layer_edits(study, params, input.config().n_layers);

  std::vector<formats::GgufTensorPlan> plans;
  for (const formats::GgufTensorInfo& info : reader.tensors()) {
    plans.push_back({info.name, info.shape, type_for(info.shape, type)});
  }
  detail::StagedFolder folder(options.out, options.force);
  const std::string file_name = fmt::format("{}-abliterated-{}.gguf", model_path.stem().string(), written.name);
  formats::GgufWriter writer(folder.path() / file_name, reader, {{"general.file_type", written.file_type}}, plans);
  ExportSummary summary;
  summary.n_shards = 1;
  torch::NoGradGuard no_grad;
  const auto start = std::chrono::steady_clock::now();
  size_t next_report = plans.size() / 10;  // progress about every tenth of the tensors
  for (size_t tensor_idx = 0; tensor_idx < plans.size(); ++tensor_idx) {
    const formats::GgufTensorPlan& plan = plans[tensor_idx];
    const std::optional<std::string> hf_name = model::hf_name_of_gguf_tensor(checkpoint.architecture(), plan.name);
    torch::Tensor values;
    if (!hf_name) {
      values = reader.load_tensor(plan.name);  // rope_freqs and the like: as the file has them
    } else {
      values = input.take({*hf_name, plan.shape, torch::kFloat32, 0}, torch::kFloat32);
      const std::optional<detail::AblatedMatrix> matrix = detail::ablated_matrix_of(*hf_name);
      if (matrix && edits.weight_of(*matrix) != 0) {
        values = method::materialize(values, edits.directions[matrix->layer], edits.weight_of(*matrix),
                                     study.job.row_normalization);
        ++summary.n_ablated_matrices;
      }
      values = checkpoint.redo_converter_changes(*hf_name, values);
    }
    const std::vector<uint8_t> bytes = encode(values, plan.type);
    writer.write_tensor(bytes);
    summary.weight_bytes += bytes.size();
    if (tensor_idx + 1 >= next_report && tensor_idx + 1 < plans.size()) {
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const double done = static_cast<double>(tensor_idx + 1) / static_cast<double>(plans.size());
      fmt::print("* {} of {} tensors, {:.2f} GB written, {}; ETA {}\n", tensor_idx + 1, plans.size(),
                 static_cast<double>(summary.weight_bytes) / 1e9, format_duration(seconds),
                 format_duration(seconds / done - seconds));
      next_report += std::max<size_t>(1, plans.size() / 10);
    }
  }
  writer.finish();
  fmt::print("* Wrote {} ({:.2f} GB, {})\n", file_name, static_cast<double>(summary.weight_bytes) / 1e9, written.name);

  detail::finish_export(folder, study, trial, options, {{"gguf", written.name}});
  return summary;
}

}  // namespace abliterate::exporter
