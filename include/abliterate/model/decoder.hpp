// The decoder forward pass in LibTorch: Gemma 3 (spec/model-runtime.md
// §1.1-§1.2) and, through ModelConfig's switches, Llama 3, Mistral, Qwen2/2.5
// and Qwen3 (§3). Code is dtype-generic: matmuls run in the weight dtype,
// norms, RoPE tables and softmax in float32.
//
// Batches are left padded: `positions` count only real tokens (HF's
// position_ids = cumsum(mask) - 1), and the attention mask works on indices in
// the padded sequence, which for real tokens differ exactly as positions do.
// Owns its weights; immutable after construction, so one Decoder may serve
// several threads as long as each brings its own KvCache.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "abliterate/model/decoder_weights.hpp"
#include "abliterate/model/kv_cache.hpp"
#include "abliterate/model/model_config.hpp"
#include "abliterate/model/output_head.hpp"
#include "abliterate/model/packed_linear.hpp"
#include "abliterate/model/projection_hook.hpp"

namespace abliterate::model {

struct DecoderInput {
  torch::Tensor input_ids;  // int64 [B, T], the new tokens
  torch::Tensor positions;  // int64 [B, T], RoPE positions (padding rows: any value)
  torch::Tensor key_mask;   // bool [B, S], S = cached length + T: true where the key is a real token
};

// Whether forward() returns the hidden states at the last position (method spec §4.1).
enum class HiddenCapture { none, last_position };

struct DecoderOutput {
  torch::Tensor logits;  // float32 [B, V] at the last position
  torch::Tensor hidden;  // float32 [B, L+1, d] at the last position; undefined unless asked
};

class Decoder {
 public:
  Decoder(ModelConfig config, DecoderWeights weights);

  // One pass over `input`. With a cache, the new keys/values are appended and
  // attention sees cached + new keys; without, T must equal S. `hook` (may be
  // null) sees every o_proj and down_proj output. hidden[:, 0] is the scaled
  // embedding, hidden[:, k] the output of layer k-1 for k < L, hidden[:, L]
  // the final-norm output (HF's hidden_states convention).
  DecoderOutput forward(const DecoderInput& input, KvCache* cache, const ProjectionHook* hook,
                        HiddenCapture capture) const;

  // The same pass for a greedy step: only each row's next token, int64 [B] on
  // the host, the highest logit among ids below n_sampleable_tokens (all when
  // 0). The head need not compute every logit for it (OutputHead).
  torch::Tensor forward_greedy(const DecoderInput& input, KvCache* cache, const ProjectionHook* hook,
                               int64_t n_sampleable_tokens) const;

  const ModelConfig& config() const { return config_; }
  // The weights as loaded, less q/k/v (and their biases) and gate/up: those
  // live fused in the layers' PackedLinear and are released at construction.
  const DecoderWeights& weights() const { return weights_; }
  const OutputHead& head() const { return head_; }
  torch::ScalarType dtype() const { return weights_.embed.scalar_type(); }
  torch::Device device() const { return weights_.embed.device(); }

 private:
  // The layers and the final norm: [B, d] in the model dtype at the last
  // position. With `hidden`, the inputs of layers 0..L-1 there are appended
  // (float32 [B, d] each).
  torch::Tensor last_hidden_state(const DecoderInput& input, KvCache* cache, const ProjectionHook* hook,
                                  std::vector<torch::Tensor>* hidden) const;
  // [B, T, d] -> [B, T, d]: self-attention of layer `layer_idx` incl. o_proj and the hook.
  // blocked: bool [B, 1, T, S], true where a query must not see a key.
  torch::Tensor attention(int64_t layer_idx, const torch::Tensor& x, const torch::Tensor& cos,
                          const torch::Tensor& sin, const torch::Tensor& blocked, KvCache* cache,
                          const ProjectionHook* hook) const;
  torch::Tensor mlp(int64_t layer_idx, const torch::Tensor& x, const ProjectionHook* hook) const;
  // The family's RMSNorm (config_.norm_gain).
  torch::Tensor norm(const torch::Tensor& x, const torch::Tensor& weight) const;

  // A layer's matrix products, each one prepared product (PackedLinear).
  struct LayerLinears {
    PackedLinear qkv;        // [(H+2Hkv)*D, d]: q, k, v fused
    PackedLinear o_proj;     // [d, H*D]
    PackedLinear gate_up;    // [2I, d]: gate, up fused
    PackedLinear down_proj;  // [d, I]
  };

  ModelConfig config_;
  DecoderWeights weights_;
  std::vector<LayerLinears> linears_;  // one per layer
  OutputHead head_;                    // [V, d]
  torch::Tensor inv_freq_sliding_;  // float32 [D/2], base rope_local_theta
  torch::Tensor inv_freq_full_;     // float32 [D/2], base rope_theta, with linear or llama3 scaling
  torch::Tensor embed_scale_;       // scalar in the model dtype: sqrt(d) rounded to that dtype (spec §1.2); undefined when unscaled
};

// Gemma's RMSNorm (spec §1.2): x * rsqrt(mean(x^2) + eps) * (1 + w) in float32,
// cast back to x's dtype. x: [..., n], w: [n].
torch::Tensor gemma_rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps);

// The Llama-style RMSNorm (spec §3): x * rsqrt(mean(x^2) + eps) in float32,
// cast back to x's dtype, then times w. x: [..., n], w: [n].
torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps);

// RoPE inverse frequencies of one layer kind, float32 [D/2] on CPU: base^(-2i/D)
// with the local base for sliding layers, and for full layers the base
// rope_theta with linear or llama3 scaling (spec §1.2 "RoPE", §3).
torch::Tensor rope_inv_freq(const ModelConfig& config, AttentionKind kind);

// HF's position_ids for a left-padded batch: cumsum(mask) - 1, padding set to 1.
// mask: int64 or bool [B, T]; returns int64 [B, T].
torch::Tensor positions_from_mask(const torch::Tensor& attention_mask);

}  // namespace abliterate::model
