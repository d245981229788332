// Decoder: one forward pass for every family, switched by ModelConfig. See
// include/abliterate/model/decoder.hpp and spec/model-runtime.md §1.1 (block
// order), §1.2 (components) and §3 (the other families' switches).
#include "abliterate/model/decoder.hpp"

#include <cmath>
#include <numbers>
#include <vector>

#include "abliterate/common/error.hpp"
#include "abliterate/model/batched_matmul.hpp"
#include "abliterate/model/fused_steps.hpp"

namespace abliterate::model {

torch::Tensor gemma_rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  const torch::Tensor x_f32 = x.to(torch::kFloat32);
  torch::Tensor out = x_f32 * torch::rsqrt(x_f32.pow(2).mean(-1, /*keepdim=*/true) + eps);
  out = out * (1.0 + weight.to(torch::kFloat32));
  return out.to(x.scalar_type());
}

torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  const torch::Tensor x_f32 = x.to(torch::kFloat32);
  const torch::Tensor normalized = x_f32 * torch::rsqrt(x_f32.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return weight * normalized.to(x.scalar_type());  // HF casts x̂ to the input dtype before the gain
}

torch::Tensor rope_inv_freq(const ModelConfig& config, AttentionKind kind) {
  const bool is_sliding = kind == AttentionKind::sliding;
  const double base = is_sliding ? config.rope_local_theta : config.rope_theta;
  // As HF: float32 arange / D, then base^that, in float32.
  const torch::Tensor exponents =
      torch::arange(0, config.head_dim, 2, torch::TensorOptions().dtype(torch::kInt64)).to(torch::kFloat32) /
      static_cast<double>(config.head_dim);                                    // float32 [D/2]
  torch::Tensor inv_freq = (1.0 / torch::pow(base, exponents)).to(torch::kFloat32);  // float32 [D/2]
  if (is_sliding) return inv_freq;
  if (config.rope_scaling_factor != 1.0) inv_freq = inv_freq / config.rope_scaling_factor;  // linear
  const Llama3RopeScaling& llama3 = config.rope_llama3;
  if (llama3.factor > 0) {
    // HF's _compute_llama3_parameters, op for op in float32: long wavelengths are
    // divided by the factor, short ones kept, the band between interpolated.
    const double low_freq_wavelen = llama3.original_max_position_embeddings / llama3.low_freq_factor;
    const double high_freq_wavelen = llama3.original_max_position_embeddings / llama3.high_freq_factor;
    const torch::Tensor wavelen = 2 * std::numbers::pi / inv_freq;
    torch::Tensor scaled = torch::where(wavelen > low_freq_wavelen, inv_freq / llama3.factor, inv_freq);
    const torch::Tensor smooth = (llama3.original_max_position_embeddings / wavelen - llama3.low_freq_factor) /
                                 (llama3.high_freq_factor - llama3.low_freq_factor);
    const torch::Tensor smoothed = (1 - smooth) * scaled / llama3.factor + smooth * scaled;
    const torch::Tensor is_medium = (wavelen < high_freq_wavelen).logical_not() & (wavelen > low_freq_wavelen).logical_not();
    inv_freq = torch::where(is_medium, smoothed, scaled);
  }
  return inv_freq.to(torch::kFloat32);
}

torch::Tensor positions_from_mask(const torch::Tensor& attention_mask) {
  const torch::Tensor mask = attention_mask.to(torch::kInt64);  // int64 [B, T]
  torch::Tensor positions = mask.cumsum(1) - 1;
  return positions.masked_fill(mask == 0, 1);
}

Decoder::Decoder(ModelConfig config, DecoderWeights weights) : config_(std::move(config)), weights_(std::move(weights)) {
  ABL_ASSERT(weights_.layers.size() == static_cast<size_t>(config_.n_layers), "layer count");
  const torch::Device dev = weights_.embed.device();
  inv_freq_sliding_ = rope_inv_freq(config_, AttentionKind::sliding).to(dev);
  inv_freq_full_ = rope_inv_freq(config_, AttentionKind::full).to(dev);
  // q/k/v and gate/up each become one product (Note [Prepacked weights]); the
  // separate tensors are released, as nothing reads them after this.
  linears_.reserve(weights_.layers.size());
  for (DecoderLayerWeights& w : weights_.layers) {
    linears_.push_back({fuse_linears({w.q_proj, w.k_proj, w.v_proj}, {w.q_bias, w.k_bias, w.v_bias}),
                        PackedLinear(w.o_proj, {}), fuse_linears({w.gate_proj, w.up_proj}, {}),
                        PackedLinear(w.down_proj, {})});
    for (torch::Tensor* fused : {&w.q_proj, &w.k_proj, &w.v_proj, &w.q_bias, &w.k_bias, &w.v_bias, &w.gate_proj,
                                 &w.up_proj}) {
      *fused = torch::Tensor();
    }
  }
  head_ = OutputHead(weights_.lm_head, config_.final_logit_softcapping);
  if (config_.scales_embeddings) {
    // HF: torch.tensor(hidden_size**0.5) (float32) cast to the weight dtype (bf16: sqrt(640) -> 25.25).
    embed_scale_ = torch::scalar_tensor(std::sqrt(static_cast<double>(config_.hidden_size)),
                                        torch::TensorOptions().dtype(torch::kFloat32))
                       .to(weights_.embed.scalar_type())
                       .to(dev);
  }
}

torch::Tensor Decoder::norm(const torch::Tensor& x, const torch::Tensor& weight) const {
  return fused_rms_norm(x, weight, config_.rms_norm_eps, config_.norm_gain);
}

torch::Tensor Decoder::attention(int64_t layer_idx, const torch::Tensor& x, const torch::Tensor& cos,
                                 const torch::Tensor& sin, const torch::Tensor& blocked, KvCache* cache,
                                 const ProjectionHook* hook) const {
  const DecoderLayerWeights& w = weights_.layers[static_cast<size_t>(layer_idx)];
  const LayerLinears& linears = linears_[static_cast<size_t>(layer_idx)];
  const int64_t batch = x.size(0);
  const int64_t n_new = x.size(1);
  const int64_t head_dim = config_.head_dim;

  // Projections in one product (Qwen2: with q/k/v bias), split by views, then
  // q/k norm per head before RoPE (spec §1.2 "q_norm / k_norm"; Qwen3 too).
  const int64_t q_width = config_.n_heads * head_dim;
  const int64_t kv_width = config_.n_kv_heads * head_dim;
  const torch::Tensor qkv = linears.qkv(x);  // [B,T,(H+2Hkv)*D]
  torch::Tensor q = qkv.narrow(-1, 0, q_width).view({batch, n_new, config_.n_heads, head_dim});                // [B,T,H,D]
  torch::Tensor k = qkv.narrow(-1, q_width, kv_width).view({batch, n_new, config_.n_kv_heads, head_dim});      // [B,T,Hkv,D]
  torch::Tensor v = qkv.narrow(-1, q_width + kv_width, kv_width).view({batch, n_new, config_.n_kv_heads, head_dim});  // [B,T,Hkv,D]
  if (config_.has_qk_norm) {
    q = norm(q, w.q_norm);
    k = norm(k, w.k_norm);
  }
  // RoPE (NeoX rotate_half), which also moves heads before positions.
  q = fused_rotary(q, cos, sin);  // [B,H,T,D]
  k = fused_rotary(k, cos, sin);  // [B,Hkv,T,D]
  v = v.transpose(1, 2);          // [B,Hkv,T,D]
  torch::Tensor layer_blocked = blocked;  // [B,1,T,S]
  if (cache != nullptr) {
    // Sliding layers keep only their window: the keys are the last S' <= S
    // positions, so the mask keeps its last S' columns (spec §1.2 "KV cache").
    const int64_t window = config_.is_sliding(layer_idx) ? config_.sliding_window : 0;
    std::tie(k, v) = cache->append(layer_idx, k, v, window);  // [B,Hkv,S',D]
    layer_blocked = blocked.narrow(3, blocked.size(3) - k.size(2), k.size(2));
  }

  // GQA: kv head j serves query heads j*g .. j*g+g-1 (HF repeat_kv). Rather
  // than copying k and v g times, the g query heads of a group are stacked
  // along T, [B,Hkv,g*T,D], and meet their one kv head in a single matmul.
  const int64_t group = config_.n_heads / config_.n_kv_heads;
  const int64_t n_keys = k.size(2);
  const torch::Tensor q_grouped = q.reshape({batch, config_.n_kv_heads, group * n_new, head_dim});  // [B,Hkv,g*T,D]
  const double scaling = std::pow(config_.query_pre_attn_scalar, -0.5);
  const torch::Tensor scores =
      batched_matmul(q_grouped, k.transpose(-1, -2)).view({batch, config_.n_heads, n_new, n_keys});  // model dtype [B,H,T,S]
  const torch::Tensor probs =
      fused_attention_probs(scores, layer_blocked, scaling, config_.attn_logit_softcapping);  // [B,H,T,S]
  const torch::Tensor context = batched_matmul(probs.reshape({batch, config_.n_kv_heads, group * n_new, n_keys}), v)
                                    .view({batch, config_.n_heads, n_new, head_dim})
                                    .transpose(1, 2)
                                    .reshape({batch, n_new, config_.n_heads * head_dim});  // [B,T,H*D]
  torch::Tensor y = linears.o_proj(context);                                                 // [B,T,d]
  if (hook != nullptr) y = hook->apply(Projection::attn_o_proj, layer_idx, y);
  return y;
}

torch::Tensor Decoder::mlp(int64_t layer_idx, const torch::Tensor& x, const ProjectionHook* hook) const {
  const LayerLinears& linears = linears_[static_cast<size_t>(layer_idx)];
  const torch::Tensor gate_up = linears.gate_up(x);  // [B,T,2I], the gate first
  torch::Tensor y = linears.down_proj(fused_gated_activation(gate_up, config_.mlp_activation));  // [B,T,d]
  if (hook != nullptr) y = hook->apply(Projection::mlp_down_proj, layer_idx, y);
  return y;
}

torch::Tensor Decoder::last_hidden_state(const DecoderInput& input, KvCache* cache, const ProjectionHook* hook,
                                         std::vector<torch::Tensor>* hidden) const {
  const torch::Tensor& ids = input.input_ids;  // int64 [B, T]
  ABL_ASSERT(ids.dim() == 2 && input.positions.sizes() == ids.sizes(), "ids/positions shape");
  const int64_t batch = ids.size(0);
  const int64_t n_new = ids.size(1);
  const int64_t n_cached = cache != nullptr ? cache->length() : 0;
  const int64_t n_keys = n_cached + n_new;
  ABL_ASSERT(input.key_mask.dim() == 2 && input.key_mask.size(0) == batch && input.key_mask.size(1) == n_keys,
             "key_mask must be [B, cached + T]");
  ABL_ASSERT(n_new > 0, "forward needs at least one token");
  const torch::Device dev = device();

  // Attention masks over indices of the padded sequence, [B, 1, T, S] bool:
  // causal, real keys only, and for sliding layers q - kv < window (spec §1.2 "Masks").
  // A query always sees itself, so padding rows never softmax over nothing.
  const auto index_options = torch::TensorOptions().dtype(torch::kInt64).device(dev);
  const torch::Tensor query_index = (torch::arange(n_new, index_options) + n_cached).view({n_new, 1});  // [T,1]
  const torch::Tensor key_index = torch::arange(n_keys, index_options).view({1, n_keys});              // [1,S]
  const torch::Tensor is_self = key_index == query_index;                                               // [T,S]
  const torch::Tensor real_key = input.key_mask.to(dev).to(torch::kBool).view({batch, 1, 1, n_keys});
  const torch::Tensor causal = (key_index <= query_index).view({1, 1, n_new, n_keys}) & real_key;
  const torch::Tensor allowed_full = causal | is_self.view({1, 1, n_new, n_keys});
  torch::Tensor allowed_sliding = allowed_full;
  if (config_.sliding_window > 0) {
    const torch::Tensor in_window = (query_index - key_index < config_.sliding_window).view({1, 1, n_new, n_keys});
    allowed_sliding = (causal & in_window) | is_self.view({1, 1, n_new, n_keys});
  }
  // What attention masks out, negated once here rather than in every layer.
  const torch::Tensor blocked_full = allowed_full.logical_not();
  const torch::Tensor blocked_sliding =
      config_.sliding_window > 0 ? allowed_sliding.logical_not() : blocked_full;

  // RoPE tables in float32, cast to the model dtype as HF does: [B, 1, T, D].
  const torch::Tensor positions = input.positions.to(dev).to(torch::kFloat32).unsqueeze(-1);  // [B,T,1]
  const auto rope_tables = [&](const torch::Tensor& inv_freq) {
    const torch::Tensor freqs = positions * inv_freq.view({1, 1, -1});  // [B,T,D/2]
    const torch::Tensor angles = torch::cat({freqs, freqs}, -1);          // [B,T,D]
    return std::pair{angles.cos().to(dtype()).unsqueeze(1), angles.sin().to(dtype()).unsqueeze(1)};
  };
  const auto [cos_sliding, sin_sliding] = rope_tables(inv_freq_sliding_);
  const auto [cos_full, sin_full] = rope_tables(inv_freq_full_);

  // Checked where the ids are: generation passes its tokens from the host, so
  // a decode step on a GPU does not wait for the device to read them back.
  const torch::Tensor flat_ids = ids.reshape({-1});
  ABL_CHECK(flat_ids.numel() == 0 || (flat_ids.min().item<int64_t>() >= 0 &&
                                      flat_ids.max().item<int64_t>() < config_.vocab_size),
            InputError, "token ids must lie in [0, {}) (the embedding size)", config_.vocab_size);
  torch::Tensor h = weights_.embed.index_select(0, flat_ids.to(dev)).view({batch, n_new, config_.hidden_size});  // model dtype [B,T,d]
  if (config_.scales_embeddings) h = h * embed_scale_;

  if (hidden != nullptr) hidden->push_back(h.select(1, n_new - 1).to(torch::kFloat32));
  for (int64_t layer_idx = 0; layer_idx < config_.n_layers; ++layer_idx) {
    const DecoderLayerWeights& w = weights_.layers[static_cast<size_t>(layer_idx)];
    const bool sliding = config_.is_sliding(layer_idx);
    torch::Tensor a = norm(h, w.input_norm);
    a = attention(layer_idx, a, sliding ? cos_sliding : cos_full, sliding ? sin_sliding : sin_full,
                  sliding ? blocked_sliding : blocked_full, cache, hook);
    h = h + (config_.has_post_norms ? norm(a, w.post_attn_norm) : a);
    torch::Tensor m = mlp(layer_idx, norm(h, w.pre_ffw_norm), hook);
    h = h + (config_.has_post_norms ? norm(m, w.post_ffw_norm) : m);
    // HF's hidden_states hold the inputs of layers 0..L-1; the last layer's raw output is replaced by the final norm.
    if (hidden != nullptr && layer_idx + 1 < config_.n_layers) hidden->push_back(h.select(1, n_new - 1).to(torch::kFloat32));
  }
  // Only the last position is needed: the final norm on it alone.
  return norm(h.select(1, n_new - 1), weights_.final_norm);  // [B,d]
}

DecoderOutput Decoder::forward(const DecoderInput& input, KvCache* cache, const ProjectionHook* hook,
                               HiddenCapture capture) const {
  std::vector<torch::Tensor> hidden;  // float32 [B, d] each
  const bool captures = capture == HiddenCapture::last_position;
  const torch::Tensor last = last_hidden_state(input, cache, hook, captures ? &hidden : nullptr);  // [B,d]
  DecoderOutput output;
  output.logits = head_.logits(last).to(torch::kFloat32);  // no embed scale on the output
  if (captures) {
    hidden.push_back(last.to(torch::kFloat32));
    output.hidden = torch::stack(hidden, 1);  // float32 [B, L+1, d]
  }
  return output;
}

torch::Tensor Decoder::forward_greedy(const DecoderInput& input, KvCache* cache, const ProjectionHook* hook,
                                      int64_t n_sampleable_tokens) const {
  return head_.greedy_tokens(last_hidden_state(input, cache, hook, nullptr), n_sampleable_tokens);
}

}  // namespace abliterate::model
