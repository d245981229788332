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

struct ModelConfig {
  Architecture architecture = Architecture::gemma3;
  int64_t hidden_size = 0;          // d
  int64_t intermediate_size = 0;    // MLP width
  int64_t n_layers = 0;             // L
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t vocab_size = 0;           // rows of the embedding
  double rms_norm_eps = 1e-6;
  double rope_theta = 1e6;          // full-attention layers
  double rope_local_theta = 1e4;    // sliding layers (Gemma 3)
  double rope_scaling_factor = 1.0; // linear RoPE scaling, full-attention layers only (Gemma 3 4B+: 8); 1 = none
  double query_pre_attn_scalar = 0; // Gemma 3: attention scale = this^-0.5
  int64_t sliding_window = 0;       // 0 = none
  std::vector<AttentionKind> layer_types;  // one per layer
  bool tie_word_embeddings = true;
  int64_t bos_token_id = -1;
  int64_t pad_token_id = -1;
  std::vector<int64_t> eos_token_ids;
  double attn_logit_softcapping = 0;   // 0 = off (null in every Gemma 3 config; spec §1.2)
  double final_logit_softcapping = 0;  // 0 = off

  // Reads an HF config.json (model_type gemma3_text, or gemma3 with a
  // text_config). Throws IoError when the file is missing, FormatError naming
  // the file and key otherwise. Shape keys (hidden_size, intermediate_size,
  // num_hidden_layers, num_attention_heads, num_key_value_heads, head_dim,
  // vocab_size) are required; the rest take Gemma 3's defaults.
  static ModelConfig from_hf_json(const std::filesystem::path& config_json);

  // from_hf_json(folder/config.json), then the eos ids of
  // folder/generation_config.json (scalar or list) when that file exists,
  // added to eos_token_ids (spec §2, "Stop tokens").
  static ModelConfig from_hf_folder(const std::filesystem::path& folder);

  // layer_types[layer_idx] == sliding.
  bool is_sliding(int64_t layer_idx) const { return layer_types.at(static_cast<size_t>(layer_idx)) == AttentionKind::sliding; }
};

}  // namespace abliterate::model
