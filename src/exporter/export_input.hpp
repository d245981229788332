// The model an export reads (src/exporter only), in either format: its
// tensors by HF name with the job's adapter merged, the dtype each is written
// in, its config, and the files that go beside the weights. An HF folder's
// files are copied as they are; a GGUF file's are written from its metadata
// (config.json, generation_config.json, tokenizer.json, tokenizer_config.json,
// chat_template.jinja), and its tensors are dequantized to the export's dtype.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "abliterate/config/job.hpp"
#include "abliterate/model/gguf_checkpoint.hpp"
#include "abliterate/model/hf_checkpoint.hpp"
#include "abliterate/model/lora_adapter.hpp"
#include "abliterate/model/model_config.hpp"

namespace abliterate::exporter::detail {

// One tensor of the export: its HF name, shape and the type it is written in.
struct OutputTensor {
  std::string name;
  std::vector<int64_t> shape;
  torch::Dtype dtype = torch::kFloat32;
  uint64_t bytes = 0;
};

class ExportInput {
 public:
  // `model_path` is an HF folder or a .gguf file; `adapter_path` a PEFT
  // adapter merged into the weights. `dtype`: the type of every written tensor;
  // nullopt keeps an HF folder's own types and dequantizes GGUF to bfloat16.
  ExportInput(const std::filesystem::path& model_path, const std::optional<std::filesystem::path>& adapter_path,
              std::optional<config::DType> dtype);
  ExportInput(const ExportInput&) = delete;  // the adapted source refers to the members
  ExportInput& operator=(const ExportInput&) = delete;

  bool is_gguf() const { return gguf_.has_value(); }
  // The GGUF file read, or nullptr for an HF folder.
  const model::GgufCheckpoint* gguf() const { return gguf_ ? &*gguf_ : nullptr; }
  const model::ModelConfig& config() const { return config_; }
  // Every tensor, in name order.
  const std::vector<OutputTensor>& tensors() const { return tensors_; }
  // The file holding `name`, for messages.
  std::string file_of(const std::string& name) const { return source_->file_of(name); }

  // The tensor's values (adapter merged, GGUF dequantized and its converter's
  // changes undone) as `dtype`.
  torch::Tensor take(const OutputTensor& tensor, torch::Dtype dtype);

  // Writes or copies the files that go beside the weights into `folder`.
  void write_side_files(const std::filesystem::path& folder) const;

 private:
  std::filesystem::path model_path_;
  std::optional<model::HfCheckpoint> hf_;
  std::optional<model::GgufCheckpoint> gguf_;
  std::optional<model::LoraAdapter> adapter_;
  std::optional<model::AdaptedTensorSource> adapted_;
  model::TensorSource* source_ = nullptr;
  model::ModelConfig config_;
  std::string dtype_name_;  // config.json's torch_dtype
  std::vector<OutputTensor> tensors_;
};

}  // namespace abliterate::exporter::detail
