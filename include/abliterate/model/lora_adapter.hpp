// PEFT LoRA adapters as model input (issue 10): a folder with
// adapter_config.json and adapter_model.safetensors, merged into the base
// weights at load time, W + s·B·A with s = lora_alpha / r (rsLoRA:
// lora_alpha / sqrt(r)), as PEFT's merge_and_unload() computes it. Works for HF
// folders and GGUF bases alike, because the merge sits behind TensorSource,
// where both already speak HF names in HF layout.
//
// Only plain LoRA on the decoder's projections (q/k/v/o, gate/up/down) is
// accepted; DoRA, bias terms, fan_in_fan_out (GPT-2's Conv1D), per-module
// alphas, extra saved modules and other PEFT types are refused with the file
// and the key, never half-applied.
#pragma once

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "abliterate/model/tensor_source.hpp"

namespace abliterate::model {

inline constexpr const char* kAdapterConfigFile = "adapter_config.json";
inline constexpr const char* kAdapterWeightsFile = "adapter_model.safetensors";

// One adapted matrix: delta W = scale · B·A.
struct LoraUpdate {
  torch::Tensor a;  // float32 [r, in], CPU
  torch::Tensor b;  // float32 [out, r], CPU
  double scale = 1.0;
};

class LoraAdapter {
 public:
  // Reads and checks `folder`'s adapter_config.json and
  // adapter_model.safetensors: PEFT type LORA, no DoRA / bias / fan_in_fan_out
  // / alpha_pattern / modules_to_save, every tensor a `<module>.lora_A.weight`
  // or `.lora_B.weight` under "base_model.model.", A and B in pairs of one
  // rank. Throws IoError (missing file) or FormatError naming the file and key.
  static LoraAdapter open(const std::filesystem::path& folder);

  const std::filesystem::path& folder() const { return folder_; }
  // By the HF name of the weight it changes ("model.layers.0.self_attn.q_proj.weight").
  const std::map<std::string, LoraUpdate>& updates() const { return updates_; }
  // The adapter_model.safetensors key of `weight_name`'s A matrix (for messages).
  std::string key_of(const std::string& weight_name, const char* matrix) const;

 private:
  std::filesystem::path folder_;
  std::map<std::string, LoraUpdate> updates_;
};

// A TensorSource whose weights are `base`'s with `adapter` merged into the
// ones it targets. Construction checks that every target is a projection
// weight the decoder loads; take() checks the shapes against the base's.
class AdaptedTensorSource final : public TensorSource {
 public:
  AdaptedTensorSource(TensorSource& base, const LoraAdapter& adapter);

  bool contains(const std::string& hf_name) const override { return base_.contains(hf_name); }
  torch::Tensor take(const std::string& hf_name, const std::vector<int64_t>& expected_shape,
                     const torch::TensorOptions& options) override;
  std::vector<std::string> unused_names() const override { return base_.unused_names(); }
  std::string file_of(const std::string& hf_name) const override { return base_.file_of(hf_name); }

 private:
  TensorSource& base_;
  const LoraAdapter& adapter_;
};

}  // namespace abliterate::model
