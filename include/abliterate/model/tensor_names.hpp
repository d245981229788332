// HF tensor names of the decoder checkpoints (spec/model-runtime.md §1.4 for
// Gemma 3, §3 for Llama / Mistral / Qwen2 / Qwen3), in one table, so loader,
// export and tests never spell them twice.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "abliterate/model/model_config.hpp"

namespace abliterate::model {

// The per-layer weights of a decoder block, by their HF names. Note that
// post_attention_layernorm is Gemma's norm after attention but the pre-MLP
// norm of the Llama-style families (spec §5.6 "Trap").
enum class LayerTensor {
  input_layernorm,
  q_proj,
  k_proj,
  v_proj,
  o_proj,
  q_norm,
  k_norm,
  post_attention_layernorm,
  pre_feedforward_layernorm,
  post_feedforward_layernorm,
  gate_proj,
  up_proj,
  down_proj,
  q_proj_bias,
  k_proj_bias,
  v_proj_bias,
};

// Gemma 3's block, in checkpoint order.
inline constexpr LayerTensor kAllLayerTensors[] = {
    LayerTensor::input_layernorm,           LayerTensor::q_proj,    LayerTensor::k_proj,
    LayerTensor::v_proj,                    LayerTensor::o_proj,    LayerTensor::q_norm,
    LayerTensor::k_norm,                    LayerTensor::post_attention_layernorm,
    LayerTensor::pre_feedforward_layernorm, LayerTensor::post_feedforward_layernorm,
    LayerTensor::gate_proj,                 LayerTensor::up_proj,   LayerTensor::down_proj,
};

// The tensors of one block of `config`'s family (its switches: post norms,
// q/k norms, q/k/v biases), in checkpoint order; Gemma 3 gives kAllLayerTensors.
std::vector<LayerTensor> layer_tensors(const ModelConfig& config);

// "self_attn.q_proj.weight", ... (the part after "layers.{i}.").
const char* hf_layer_suffix(LayerTensor tensor);

// The text-model prefix of the usual single-model checkpoint.
inline constexpr const char* kHfTextPrefix = "model.";
// Prefixes of multimodal checkpoints (spec §1.4): transformers >= 4.52, then older saves.
inline constexpr const char* kHfTextPrefixMultimodal = "model.language_model.";
inline constexpr const char* kHfTextPrefixMultimodalOld = "language_model.model.";

// Relative to the text prefix.
inline constexpr const char* kHfEmbedTokens = "embed_tokens.weight";
inline constexpr const char* kHfFinalNorm = "norm.weight";
// Never prefixed by the text prefix: "lm_head.weight" or "language_model.lm_head.weight".
inline constexpr const char* kHfLmHead = "lm_head.weight";

// prefix + "layers." + layer_idx + "." + suffix.
std::string hf_layer_tensor_name(const std::string& prefix, int64_t layer_idx, LayerTensor tensor);

}  // namespace abliterate::model
