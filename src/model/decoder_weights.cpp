// load_decoder_weights: see include/abliterate/model/decoder_weights.hpp.
#include "abliterate/model/decoder_weights.hpp"

#include "abliterate/common/error.hpp"
#include "abliterate/model/tensor_names.hpp"

namespace abliterate::model {

namespace {

std::vector<int64_t> expected_shape(LayerTensor tensor, const ModelConfig& c) {
  const int64_t q_width = c.n_heads * c.head_dim;
  const int64_t kv_width = c.n_kv_heads * c.head_dim;
  switch (tensor) {
    case LayerTensor::input_layernorm:
    case LayerTensor::post_attention_layernorm:
    case LayerTensor::pre_feedforward_layernorm:
    case LayerTensor::post_feedforward_layernorm: return {c.hidden_size};
    case LayerTensor::q_proj: return {q_width, c.hidden_size};
    case LayerTensor::k_proj:
    case LayerTensor::v_proj: return {kv_width, c.hidden_size};
    case LayerTensor::o_proj: return {c.hidden_size, q_width};
    case LayerTensor::q_norm:
    case LayerTensor::k_norm: return {c.head_dim};
    case LayerTensor::gate_proj:
    case LayerTensor::up_proj: return {c.intermediate_size, c.hidden_size};
    case LayerTensor::down_proj: return {c.hidden_size, c.intermediate_size};
    case LayerTensor::q_proj_bias: return {q_width};
    case LayerTensor::k_proj_bias:
    case LayerTensor::v_proj_bias: return {kv_width};
  }
  return {};
}

// Where a tensor goes. HF's post_attention_layernorm is Gemma's post-attention
// norm but the pre-MLP norm of the Llama-style families (spec §5.6 "Trap").
torch::Tensor& slot(DecoderLayerWeights& layer, LayerTensor tensor, const ModelConfig& config) {
  switch (tensor) {
    case LayerTensor::input_layernorm: return layer.input_norm;
    case LayerTensor::q_proj: return layer.q_proj;
    case LayerTensor::k_proj: return layer.k_proj;
    case LayerTensor::v_proj: return layer.v_proj;
    case LayerTensor::o_proj: return layer.o_proj;
    case LayerTensor::q_norm: return layer.q_norm;
    case LayerTensor::k_norm: return layer.k_norm;
    case LayerTensor::post_attention_layernorm: return config.has_post_norms ? layer.post_attn_norm : layer.pre_ffw_norm;
    case LayerTensor::pre_feedforward_layernorm: return layer.pre_ffw_norm;
    case LayerTensor::post_feedforward_layernorm: return layer.post_ffw_norm;
    case LayerTensor::gate_proj: return layer.gate_proj;
    case LayerTensor::up_proj: return layer.up_proj;
    case LayerTensor::down_proj: return layer.down_proj;
    case LayerTensor::q_proj_bias: return layer.q_bias;
    case LayerTensor::k_proj_bias: return layer.k_bias;
    case LayerTensor::v_proj_bias: return layer.v_bias;
  }
  ABL_ASSERT(false, "unknown LayerTensor");
}

bool is_ignored_multimodal_tensor(const std::string& name) {
  return name.starts_with("vision_tower.") || name.starts_with("multi_modal_projector.") ||
         name.starts_with("model.vision_tower.") || name.starts_with("model.multi_modal_projector.");
}

}  // namespace

DecoderWeights load_decoder_weights(TensorSource& source, const ModelConfig& config,
                                    const torch::TensorOptions& options) {
  std::string prefix = kHfTextPrefix;
  for (const char* candidate : {kHfTextPrefix, kHfTextPrefixMultimodal, kHfTextPrefixMultimodalOld}) {
    if (source.contains(std::string(candidate) + kHfEmbedTokens)) {
      prefix = candidate;
      break;
    }
  }
  DecoderWeights weights;
  weights.embed = source.take(prefix + kHfEmbedTokens, {config.vocab_size, config.hidden_size}, options);
  weights.layers.resize(static_cast<size_t>(config.n_layers));
  const std::vector<LayerTensor> tensors = layer_tensors(config);
  for (int64_t layer_idx = 0; layer_idx < config.n_layers; ++layer_idx) {
    for (LayerTensor tensor : tensors) {
      slot(weights.layers[static_cast<size_t>(layer_idx)], tensor, config) =
          source.take(hf_layer_tensor_name(prefix, layer_idx, tensor), expected_shape(tensor, config), options);
    }
  }
  weights.final_norm = source.take(prefix + kHfFinalNorm, {config.hidden_size}, options);

  // Some fine-tunes of tied models save an explicit lm_head; prefer it when present (spec §1.4).
  weights.lm_head = weights.embed;
  for (const char* head_prefix : {"", "language_model."}) {
    const std::string name = std::string(head_prefix) + kHfLmHead;
    if (source.contains(name)) {
      weights.lm_head = source.take(name, {config.vocab_size, config.hidden_size}, options);
      break;
    }
  }
  ABL_CHECK(config.tie_word_embeddings || !weights.lm_head.is_same(weights.embed), FormatError,
            "{}: tensor '{}' is missing and the config says tie_word_embeddings=false", source.file_of(kHfLmHead),
            kHfLmHead);

  for (const std::string& name : source.unused_names()) {
    ABL_CHECK(is_ignored_multimodal_tensor(name), FormatError,
              "{}: tensor '{}' is not part of a {} text decoder with {} layers; the file does not match its config",
              source.file_of(name), name, to_string(config.architecture), config.n_layers);
  }
  return weights;
}

}  // namespace abliterate::model
