// The decoder's hyper-parameters, read from config.json (HF folder) or GGUF
// metadata (spec/model-runtime.md §1.3, §3, §5.5).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace abliterate::model {

enum class Architecture { gemma3, llama, qwen2, qwen3, mistral };

const char* to_string(Architecture a);

enum class AttentionKind { sliding, full };

// RMSNorm gain: w·x̂ (Llama, Qwen, Mistral; weights centred on 1, x̂ cast to the
// model dtype before the multiply) or (1+w)·x̂ (Gemma; weights centred on 0,
// multiplied in float32, then cast). Spec §1.2 "RMSNormG", §3 table.
enum class NormGain { weight, one_plus_weight };

enum class MlpActivation { silu, gelu_tanh };

// Llama 3.1+ RoPE scaling (spec §3 "Llama-3 RoPE scaling"); factor 0 = off.
struct Llama3RopeScaling {
  double factor = 0;
  double low_freq_factor = 1;
  double high_freq_factor = 4;
  double original_max_position_embeddings = 8192;
};

struct ModelConfig {
  Architecture architecture = Architecture::gemma3;
  // Structural switches: they follow from the architecture alone and are set by
  // set_architecture() (defaults: Gemma 3's). See spec §3's table.
  NormGain norm_gain = NormGain::one_plus_weight;
  bool has_post_norms = true;        // Gemma: norms after attention and after the MLP, before the residual add
  bool has_qk_norm = true;           // Gemma 3, Qwen3: RMSNorm over head_dim on Q and K before RoPE
  bool has_qkv_bias = false;         // Qwen2: q/k/v projections carry a bias (o_proj none)
  MlpActivation mlp_activation = MlpActivation::gelu_tanh;  // of down(act(gate x) * up x)
  bool scales_embeddings = true;     // Gemma: h0 = Embed[ids] * sqrt(hidden_size) in the model dtype

  int64_t hidden_size = 0;          // d
  int64_t intermediate_size = 0;    // MLP width
  int64_t n_layers = 0;             // L
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t vocab_size = 0;           // rows of the embedding
  double rms_norm_eps = 1e-6;
  double rope_theta = 1e6;          // full-attention layers
  double rope_local_theta = 1e4;    // sliding layers: Gemma 3's local base; the other families: rope_theta
  double rope_scaling_factor = 1.0; // linear RoPE scaling, full-attention layers only (Gemma 3 4B+: 8); 1 = none
  Llama3RopeScaling rope_llama3;    // llama3-type scaling, full-attention layers only (Llama 3.1+)
  double query_pre_attn_scalar = 0; // attention scale = this^-0.5 (Gemma 3: config key; others: head_dim)
  int64_t sliding_window = 0;       // 0 = none; a query sees itself and the previous sliding_window-1 tokens
  std::vector<AttentionKind> layer_types;  // one per layer
  bool tie_word_embeddings = true;
  int64_t bos_token_id = -1;
  int64_t pad_token_id = -1;
  std::vector<int64_t> eos_token_ids;
  double attn_logit_softcapping = 0;   // 0 = off (null in every Gemma 3 config; spec §1.2)
  double final_logit_softcapping = 0;  // 0 = off

  // Sets `architecture` and the structural switches above (the one place that
  // knows which family has which). Readers of config.json and GGUF call it.
  void set_architecture(Architecture a);

  // Reads an HF config.json: model_type gemma3_text (or gemma3 with a
  // text_config), llama, mistral, qwen2, qwen3. Throws IoError when the file
  // is missing, FormatError naming the file and key otherwise. hidden_size,
  // intermediate_size, num_hidden_layers, num_attention_heads and vocab_size
  // are required (Gemma: also num_key_value_heads and head_dim); the rest take
  // the defaults of the family's transformers config class (num_key_value_heads
  // = heads, head_dim = hidden/heads except Qwen3's 128, rope_theta 1e4,
  // eps 1e-6, untied; Mistral's sliding_window 4096 unless null).
  static ModelConfig from_hf_json(const std::filesystem::path& config_json);

  // from_hf_json(folder/config.json), then the eos ids of
  // folder/generation_config.json (scalar or list) when that file exists,
  // added to eos_token_ids (spec §2, "Stop tokens").
  static ModelConfig from_hf_folder(const std::filesystem::path& folder);

  // layer_types[layer_idx] == sliding.
  bool is_sliding(int64_t layer_idx) const { return layer_types.at(static_cast<size_t>(layer_idx)) == AttentionKind::sliding; }
};

}  // namespace abliterate::model
