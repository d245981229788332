// The weights of a Gemma 3 text decoder, in the model dtype on the model
// device (spec/model-runtime.md §1.4). Norm weights are stored as HF stores
// them, centred on 0 (the effective gain is 1 + w).
#pragma once

#include <vector>

#include <torch/torch.h>

#include "abliterate/model/hf_checkpoint.hpp"
#include "abliterate/model/model_config.hpp"

namespace abliterate::model {

// d = hidden_size, D = head_dim, H = n_heads, Hkv = n_kv_heads, I = intermediate_size.
struct DecoderLayerWeights {
  torch::Tensor input_norm;      // [d]
  torch::Tensor q_proj;          // [H*D, d]
  torch::Tensor k_proj;          // [Hkv*D, d]
  torch::Tensor v_proj;          // [Hkv*D, d]
  torch::Tensor o_proj;          // [d, H*D]
  torch::Tensor q_norm;          // [D]
  torch::Tensor k_norm;          // [D]
  torch::Tensor post_attn_norm;  // [d]
  torch::Tensor pre_ffw_norm;    // [d]
  torch::Tensor post_ffw_norm;   // [d]
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

// Takes every Gemma 3 tensor from `checkpoint` (text prefix "model.", or a
// multimodal one; spec §1.4), checks each shape against `config`, converts to
// `options`, and then rejects any tensor left unused (vision tower and
// projector tensors of multimodal checkpoints excepted). Throws FormatError
// naming the file and tensor.
DecoderWeights load_gemma3_weights(HfCheckpoint& checkpoint, const ModelConfig& config,
                                   const torch::TensorOptions& options);

}  // namespace abliterate::model
