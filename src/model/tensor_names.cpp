// HF tensor name table: see include/abliterate/model/tensor_names.hpp.
#include "abliterate/model/tensor_names.hpp"

#include <fmt/format.h>

namespace abliterate::model {

const char* hf_layer_suffix(LayerTensor tensor) {
  switch (tensor) {
    case LayerTensor::input_layernorm: return "input_layernorm.weight";
    case LayerTensor::q_proj: return "self_attn.q_proj.weight";
    case LayerTensor::k_proj: return "self_attn.k_proj.weight";
    case LayerTensor::v_proj: return "self_attn.v_proj.weight";
    case LayerTensor::o_proj: return "self_attn.o_proj.weight";
    case LayerTensor::q_norm: return "self_attn.q_norm.weight";
    case LayerTensor::k_norm: return "self_attn.k_norm.weight";
    case LayerTensor::post_attention_layernorm: return "post_attention_layernorm.weight";
    case LayerTensor::pre_feedforward_layernorm: return "pre_feedforward_layernorm.weight";
    case LayerTensor::post_feedforward_layernorm: return "post_feedforward_layernorm.weight";
    case LayerTensor::gate_proj: return "mlp.gate_proj.weight";
    case LayerTensor::up_proj: return "mlp.up_proj.weight";
    case LayerTensor::down_proj: return "mlp.down_proj.weight";
    case LayerTensor::q_proj_bias: return "self_attn.q_proj.bias";
    case LayerTensor::k_proj_bias: return "self_attn.k_proj.bias";
    case LayerTensor::v_proj_bias: return "self_attn.v_proj.bias";
  }
  return "?";
}

std::vector<LayerTensor> layer_tensors(const ModelConfig& config) {
  std::vector<LayerTensor> tensors = {LayerTensor::input_layernorm, LayerTensor::q_proj, LayerTensor::k_proj,
                                      LayerTensor::v_proj, LayerTensor::o_proj};
  if (config.has_qkv_bias) {
    tensors.insert(tensors.end(), {LayerTensor::q_proj_bias, LayerTensor::k_proj_bias, LayerTensor::v_proj_bias});
  }
  if (config.has_qk_norm) tensors.insert(tensors.end(), {LayerTensor::q_norm, LayerTensor::k_norm});
  tensors.push_back(LayerTensor::post_attention_layernorm);
  if (config.has_post_norms) {
    tensors.insert(tensors.end(), {LayerTensor::pre_feedforward_layernorm, LayerTensor::post_feedforward_layernorm});
  }
  tensors.insert(tensors.end(), {LayerTensor::gate_proj, LayerTensor::up_proj, LayerTensor::down_proj});
  return tensors;
}

std::string hf_layer_tensor_name(const std::string& prefix, int64_t layer_idx, LayerTensor tensor) {
  return fmt::format("{}layers.{}.{}", prefix, layer_idx, hf_layer_suffix(tensor));
}

}  // namespace abliterate::model
