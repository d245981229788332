#include "export_input.hpp"

#include <fmt/format.h>

#include "abliterate/chat/gguf_chat_template.hpp"
#include "abliterate/common/error.hpp"
#include "abliterate/runner/model_dtype.hpp"
#include "abliterate/formats/hf_folder.hpp"
#include "abliterate/formats/safetensors_reader.hpp"
#include "abliterate/model/gguf_model_config.hpp"
#include "abliterate/model/hf_config_writer.hpp"
#include "abliterate/tokenizer/gguf_vocab.hpp"
#include "abliterate/tokenizer/hf_tokenizer_writer.hpp"
#include "export_parts.hpp"

namespace abliterate::exporter::detail {
namespace {

namespace fs = std::filesystem;

// An HF folder's files besides its weights, copied as they are when present:
// the HF table's and a SentencePiece or older tokenizer's.
constexpr const char* kCopiedFiles[] = {
    formats::kHfConfigFile,          formats::kHfGenerationConfigFile, formats::kHfTokenizerFile,
    formats::kHfTokenizerConfigFile, formats::kHfChatTemplateFile,     "tokenizer.model",
    "special_tokens_map.json",       "added_tokens.json",              "vocab.json",
    "merges.txt",
};

// Half the bytes of float32, and what the model runs in on a GPU. It rounds
// the dequantized values (the demo's best trial measures KL 0.0613 instead of
// its 0.0600, refusals unchanged); --dtype float32 keeps them exact.
constexpr config::DType kDefaultGgufDtype = config::DType::bfloat16;

OutputTensor output_tensor(std::string name, std::vector<int64_t> shape, torch::Dtype dtype) {
  int64_t numel = 1;
  for (int64_t extent : shape) numel *= extent;
  const uint64_t bytes = static_cast<uint64_t>(numel) * c10::elementSize(dtype);
  return {std::move(name), std::move(shape), dtype, bytes};
}

}  // namespace

ExportInput::ExportInput(const fs::path& model_path, const std::optional<fs::path>& adapter_path,
                         std::optional<config::DType> dtype)
    : model_path_(model_path) {
  if (fs::is_directory(model_path)) {
    hf_.emplace(model::HfCheckpoint::open(model_path));
    source_ = &*hf_;
    config_ = model::ModelConfig::from_hf_folder(model_path);
    for (const std::string& name : hf_->unused_names()) {  // every tensor: none is taken yet
      const formats::SafetensorsTensorInfo& info = hf_->info_of(name);
      tensors_.push_back(output_tensor(name, info.shape,
                                       dtype ? runner::torch_dtype(*dtype) : formats::to_torch_dtype(info.dtype)));
    }
  } else {
    gguf_.emplace(model::GgufCheckpoint::open(model_path));
    source_ = &*gguf_;
    config_ = model::model_config_from_gguf(gguf_->reader());
    const config::DType written = dtype.value_or(kDefaultGgufDtype);
    dtype_name_ = config::to_string(written);
    for (const std::string& name : gguf_->unused_names()) {
      const std::string* gguf_name = gguf_->gguf_name_of(name);
      if (gguf_name == nullptr) continue;  // rope_freqs and the like: HF computes them from the config
      tensors_.push_back(output_tensor(name, gguf_->reader().tensor_info(*gguf_name).shape, runner::torch_dtype(written)));
    }
  }
  if (adapter_path) {
    adapter_.emplace(model::LoraAdapter::open(*adapter_path));
    adapted_.emplace(*source_, *adapter_);
    source_ = &*adapted_;
  }
}

torch::Tensor ExportInput::take(const OutputTensor& tensor, torch::Dtype dtype) {
  return source_->take(tensor.name, tensor.shape, torch::TensorOptions().dtype(dtype));
}

void ExportInput::write_side_files(const fs::path& folder) const {
  if (!gguf_) {
    for (const char* name : kCopiedFiles) {
      if (!fs::exists(model_path_ / name)) continue;
      std::error_code ec;
      fs::copy_file(model_path_ / name, folder / name, ec);
      ABL_CHECK(!ec, IoError, "{}: cannot copy to {}: {}", (model_path_ / name).string(), folder.string(),
                ec.message());
    }
    return;
  }
  const formats::GgufReader& reader = gguf_->reader();
  const int64_t context_length = reader.find_int(gguf_->architecture() + ".context_length").value_or(0);
  const tokenizer::GgufVocab vocab = tokenizer::read_gguf_vocab(reader);
  write_text(folder / formats::kHfConfigFile,
             model::hf_config_json(config_, {context_length, dtype_name_}).dump(2) + "\n");
  write_text(folder / formats::kHfGenerationConfigFile, model::hf_generation_config_json(config_).dump(2) + "\n");
  write_text(folder / formats::kHfTokenizerFile, tokenizer::hf_tokenizer_json(vocab).dump(2) + "\n");
  write_text(folder / formats::kHfTokenizerConfigFile,
             tokenizer::hf_tokenizer_config_json(vocab, context_length).dump(2) + "\n");
  // The template our runtime uses for this file: its own, or the built-in stand-in.
  write_text(folder / formats::kHfChatTemplateFile, chat::read_gguf_chat_template(reader, vocab).chat_template.source());
}

}  // namespace abliterate::exporter::detail
