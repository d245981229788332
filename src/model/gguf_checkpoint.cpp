// GgufCheckpoint: see include/abliterate/model/gguf_checkpoint.hpp and
// spec/model-runtime.md §5.6-§5.7.
#include "abliterate/model/gguf_checkpoint.hpp"

#include <algorithm>

#include "abliterate/common/error.hpp"
#include "abliterate/model/gguf_tensor_names.hpp"
#include "abliterate/model/hf_checkpoint.hpp"

namespace abliterate::model {

namespace {

// Undoes llama.cpp's permute() of a q or k projection (spec §5.7.2): within
// each head of D rows, HF row s*(D/2) + j was stored at row 2j + s.
// values: float32 [H*D, in] or [H*D] (a bias); returns the same shape in HF order.
torch::Tensor unpermute_rope_rows(const torch::Tensor& values, int64_t n_heads) {
  std::vector<int64_t> shape = values.sizes().vec();
  std::vector<int64_t> split = {n_heads, shape[0] / n_heads / 2, 2};  // [H, D/2, 2]: stored row h*D + 2j + s
  split.insert(split.end(), shape.begin() + 1, shape.end());
  return values.reshape(split).transpose(1, 2).reshape(shape).contiguous();  // [H, 2, D/2] -> HF row h*D + s*D/2 + j
}

// permute(): HF row h*D + s*D/2 + j goes to row h*D + 2j + s, the inverse of unpermute_rope_rows.
torch::Tensor permute_rope_rows(const torch::Tensor& values, int64_t n_heads) {
  std::vector<int64_t> shape = values.sizes().vec();
  std::vector<int64_t> split = {n_heads, 2, shape[0] / n_heads / 2};  // [H, 2, D/2]: HF row h*D + s*D/2 + j
  split.insert(split.end(), shape.begin() + 1, shape.end());
  return values.reshape(split).transpose(1, 2).reshape(shape).contiguous();
}

bool is_q_or_k(const std::string& hf_name, bool* is_q) {
  *is_q = hf_name.ends_with("self_attn.q_proj.weight") || hf_name.ends_with("self_attn.q_proj.bias");
  return *is_q || hf_name.ends_with("self_attn.k_proj.weight") || hf_name.ends_with("self_attn.k_proj.bias");
}

}  // namespace

GgufCheckpoint GgufCheckpoint::open(const std::filesystem::path& path) {
  return GgufCheckpoint(formats::GgufReader::open(path));
}

GgufCheckpoint::GgufCheckpoint(formats::GgufReader reader) : reader_(std::move(reader)) {
  const std::string file = reader_.path().string();
  architecture_ = reader_.get_string("general.architecture");
  ABL_CHECK(is_supported_gguf_architecture(architecture_), FormatError,
            "{}: key 'general.architecture': \"{}\" is not supported (expected gemma3, llama, qwen2 or qwen3)", file,
            architecture_);
  if (architecture_ == "llama") {
    n_heads_ = reader_.get_int(architecture_ + ".attention.head_count");
    n_kv_heads_ = reader_.find_int(architecture_ + ".attention.head_count_kv").value_or(n_heads_);
    ABL_CHECK(n_heads_ > 0 && n_kv_heads_ > 0, FormatError,
              "{}: keys '{}.attention.head_count' / '.head_count_kv': expected positive counts, got {} / {}", file,
              architecture_, n_heads_, n_kv_heads_);
  }
  for (const formats::GgufTensorInfo& info : reader_.tensors()) {
    if (std::optional<std::string> hf_name = hf_name_of_gguf_tensor(architecture_, info.name)) {
      gguf_name_of_.emplace(std::move(*hf_name), info.name);  // the map is one-to-one and GGUF names are unique
    } else {
      unmapped_names_.push_back(info.name);
    }
  }
}

const std::string* GgufCheckpoint::gguf_name_of(const std::string& hf_name) const {
  const auto it = gguf_name_of_.find(hf_name);
  return it == gguf_name_of_.end() ? nullptr : &it->second;
}

torch::Tensor GgufCheckpoint::take(const std::string& hf_name, const std::vector<int64_t>& expected_shape,
                                   const torch::TensorOptions& options) {
  const std::string file = reader_.path().string();
  const std::string* gguf_name = gguf_name_of(hf_name);
  ABL_CHECK(gguf_name != nullptr, FormatError, "{}: tensor '{}' is missing (no GGUF tensor maps to it)", file,
            hf_name);
  const formats::GgufTensorInfo& info = reader_.tensor_info(*gguf_name);
  ABL_CHECK(info.shape == expected_shape, FormatError, "{}: tensor '{}' ({}): expected shape {}, got {}", file,
            *gguf_name, hf_name, format_shape(expected_shape), format_shape(info.shape));
  torch::Tensor values = undo_converter_changes(hf_name, *gguf_name, reader_.load_tensor(*gguf_name));  // float32
  used_.insert(hf_name);
  return values.to(options);
}

torch::Tensor GgufCheckpoint::undo_converter_changes(const std::string& hf_name, const std::string& gguf_name,
                                                     torch::Tensor values) const {
  if (architecture_ == "gemma3" && hf_name.ends_with("norm.weight")) {
    return values.sub_(1.0);  // spec §5.7.1: stored as w + 1
  }
  if (architecture_ == "llama") {
    bool is_q = false;
    if (is_q_or_k(hf_name, &is_q)) {
      const int64_t n_heads = is_q ? n_heads_ : n_kv_heads_;
      ABL_CHECK(values.dim() >= 1 && values.size(0) % (2 * n_heads) == 0, FormatError,
                "{}: tensor '{}': {} rows cannot be split into {} heads of an even size (key '{}.attention.{}')",
                reader_.path().string(), gguf_name, values.dim() >= 1 ? values.size(0) : 0, n_heads, architecture_,
                is_q ? "head_count" : "head_count_kv");
      return unpermute_rope_rows(values, n_heads);
    }
  }
  return values;
}

torch::Tensor GgufCheckpoint::redo_converter_changes(const std::string& hf_name, torch::Tensor values) const {
  if (architecture_ == "gemma3" && hf_name.ends_with("norm.weight")) return values.add(1.0);
  bool is_q = false;
  if (architecture_ == "llama" && is_q_or_k(hf_name, &is_q)) return permute_rope_rows(values, is_q ? n_heads_ : n_kv_heads_);
  return values;
}

std::vector<std::string> GgufCheckpoint::unused_names() const {
  std::vector<std::string> names = unmapped_names_;
  for (const auto& [hf_name, gguf_name] : gguf_name_of_) {
    if (used_.count(hf_name) == 0) names.push_back(hf_name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace abliterate::model
