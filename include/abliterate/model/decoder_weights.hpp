// The weights of a decoder of any family of spec/model-runtime.md (§1.4, §3),
// in the model dtype on the model device. Norm weights are stored as HF stores
// them: centred on 0 for Gemma (gain 1 + w), on 1 for the others (gain w).
// Tensors a family lacks stay undefined.
#pragma once

#include <vector>

#include <torch/torch.h>

#include "abliterate/model/model_config.hpp"
#include "abliterate/model/tensor_source.hpp"

namespace abliterate::model {

// d = hidden_size, D = head_dim, H = n_heads, Hkv = n_kv_heads, I = intermediate_size.
struct DecoderLayerWeights {
  torch::Tensor input_norm;      // [d]
  torch::Tensor q_proj;          // [H*D, d]
  torch::Tensor k_proj;          // [Hkv*D, d]
  torch::Tensor v_proj;          // [Hkv*D, d]
  torch::Tensor o_proj;          // [d, H*D]
  torch::Tensor q_bias;          // [H*D]; Qwen2 only
  torch::Tensor k_bias;          // [Hkv*D]; Qwen2 only
  torch::Tensor v_bias;          // [Hkv*D]; Qwen2 only
  torch::Tensor q_norm;          // [D]; Gemma 3, Qwen3
  torch::Tensor k_norm;          // [D]; Gemma 3, Qwen3
  torch::Tensor post_attn_norm;  // [d]; Gemma only (HF post_attention_layernorm)
  torch::Tensor pre_ffw_norm;    // [d]; the norm before the MLP (Llama-style HF name: post_attention_layernorm)
  torch::Tensor post_ffw_norm;   // [d]; Gemma only
  torch::Tensor gate_proj;       // [I, d]
  torch::Tensor up_proj;         // [I, d]
  torch::Tensor down_proj;       // [d, I]
};

struct DecoderWeights {
  torch::Tensor embed;       // [V, d]
  std::vector<DecoderLayerWeights> layers;
  torch::Tensor final_norm;  // [d]
  torch::Tensor lm_head;     // [V, d]; the same tensor as `embed` when tied
};

// Takes every tensor of `config`'s family from `source` by its HF name (text
// prefix "model.", or a multimodal one; spec §1.4): per-layer tensors of
// layer_tensors(config), embedding, final norm, and lm_head.weight when the
// model is untied (also taken, and preferred, when a tied checkpoint carries
// one). Checks each shape against `config`, converts to `options`, then rejects
// any tensor left unused (vision tower and projector tensors of multimodal
// checkpoints excepted). Throws FormatError naming the file and tensor.
DecoderWeights load_decoder_weights(TensorSource& source, const ModelConfig& config,
                                    const torch::TensorOptions& options);

}  // namespace abliterate::model
