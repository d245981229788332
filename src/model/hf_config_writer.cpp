// hf_config_json: see include/abliterate/model/hf_config_writer.hpp.
#include "abliterate/model/hf_config_writer.hpp"

#include <algorithm>
#include <cmath>

#include "abliterate/common/error.hpp"

namespace abliterate::model {
namespace {

using nlohmann::ordered_json;

// The class transformers instantiates and its model_type, per family.
struct FamilyNames {
  Architecture architecture;
  const char* class_name;
  const char* model_type;
};
constexpr FamilyNames kFamilyNames[] = {
    {Architecture::gemma3, "Gemma3ForCausalLM", "gemma3_text"},
    {Architecture::llama, "LlamaForCausalLM", "llama"},
    {Architecture::mistral, "MistralForCausalLM", "mistral"},
    {Architecture::qwen2, "Qwen2ForCausalLM", "qwen2"},
    {Architecture::qwen3, "Qwen3ForCausalLM", "qwen3"},
};

const FamilyNames& names_of(Architecture architecture) {
  return *std::find_if(std::begin(kFamilyNames), std::end(kFamilyNames),
                       [&](const FamilyNames& names) { return names.architecture == architecture; });
}

ordered_json id_or_null(int64_t id) { return id >= 0 ? ordered_json(id) : ordered_json(nullptr); }

// One id as a number, several as a list (as HF configs write them).
ordered_json eos_ids(const ModelConfig& config) {
  if (config.eos_token_ids.empty()) return nullptr;
  if (config.eos_token_ids.size() == 1) return config.eos_token_ids.front();
  return config.eos_token_ids;
}

// rope_scaling in the legacy spelling every supported transformers version reads.
ordered_json rope_scaling_json(const ModelConfig& config) {
  if (config.rope_llama3.factor != 0) {
    return {{"rope_type", "llama3"},
            {"factor", config.rope_llama3.factor},
            {"low_freq_factor", config.rope_llama3.low_freq_factor},
            {"high_freq_factor", config.rope_llama3.high_freq_factor},
            {"original_max_position_embeddings", config.rope_llama3.original_max_position_embeddings}};
  }
  if (config.rope_scaling_factor != 1.0) return {{"rope_type", "linear"}, {"factor", config.rope_scaling_factor}};
  return nullptr;
}

ordered_json null_if_zero(double value) { return value != 0 ? ordered_json(value) : ordered_json(nullptr); }

void add_gemma3_keys(const ModelConfig& config, ordered_json& json) {
  ordered_json layer_types = ordered_json::array();
  for (AttentionKind kind : config.layer_types) {
    layer_types.push_back(kind == AttentionKind::sliding ? "sliding_attention" : "full_attention");
  }
  json["hidden_activation"] = "gelu_pytorch_tanh";
  json["rope_theta"] = config.rope_theta;
  json["rope_local_base_freq"] = config.rope_local_theta;
  json["rope_scaling"] = rope_scaling_json(config);
  // An int in Gemma3TextConfig (transformers 5 checks the type); the 27B's hidden/heads is one too.
  const double scalar = config.query_pre_attn_scalar;
  json["query_pre_attn_scalar"] =
      scalar == std::floor(scalar) ? ordered_json(static_cast<int64_t>(scalar)) : ordered_json(scalar);
  json["sliding_window"] = config.sliding_window;
  json["layer_types"] = layer_types;
  json["attn_logit_softcapping"] = null_if_zero(config.attn_logit_softcapping);
  json["final_logit_softcapping"] = null_if_zero(config.final_logit_softcapping);
  json["attention_bias"] = false;
}

void add_llama_family_keys(const ModelConfig& config, ordered_json& json) {
  const bool has_sliding = std::find(config.layer_types.begin(), config.layer_types.end(), AttentionKind::sliding) !=
                           config.layer_types.end();
  json["hidden_act"] = "silu";
  json["rope_theta"] = config.rope_theta;
  json["rope_scaling"] = rope_scaling_json(config);
  switch (config.architecture) {
    case Architecture::mistral:
      json["sliding_window"] = has_sliding ? ordered_json(config.sliding_window) : ordered_json(nullptr);
      return;
    case Architecture::qwen2:
    case Architecture::qwen3:
      ABL_CHECK(!has_sliding, InputError, "config.json: sliding-window layers of {} cannot be written yet",
                to_string(config.architecture));
      json["use_sliding_window"] = false;
      json["sliding_window"] = nullptr;
      if (config.architecture == Architecture::qwen3) json["attention_bias"] = false;
      return;
    case Architecture::llama:
      ABL_CHECK(!has_sliding, InputError, "config.json: Llama models have no sliding-window layers");
      json["attention_bias"] = false;
      json["mlp_bias"] = false;
      return;
    case Architecture::gemma3: return;
  }
}

}  // namespace

ordered_json hf_config_json(const ModelConfig& config, const HfConfigExtras& extras) {
  const FamilyNames& names = names_of(config.architecture);
  ordered_json json;
  json["architectures"] = ordered_json::array({names.class_name});
  json["model_type"] = names.model_type;
  json["hidden_size"] = config.hidden_size;
  json["intermediate_size"] = config.intermediate_size;
  json["num_hidden_layers"] = config.n_layers;
  json["num_attention_heads"] = config.n_heads;
  json["num_key_value_heads"] = config.n_kv_heads;
  // Qwen2's config class has no head_dim before transformers 5; it is hidden/heads there.
  if (config.architecture != Architecture::qwen2 || config.head_dim * config.n_heads != config.hidden_size) {
    json["head_dim"] = config.head_dim;
  }
  json["vocab_size"] = config.vocab_size;
  json["rms_norm_eps"] = config.rms_norm_eps;
  if (extras.max_position_embeddings > 0) json["max_position_embeddings"] = extras.max_position_embeddings;
  if (config.architecture == Architecture::gemma3) {
    add_gemma3_keys(config, json);
  } else {
    add_llama_family_keys(config, json);
  }
  json["attention_dropout"] = 0.0;
  json["tie_word_embeddings"] = config.tie_word_embeddings;
  json["bos_token_id"] = id_or_null(config.bos_token_id);
  json["eos_token_id"] = eos_ids(config);
  json["pad_token_id"] = id_or_null(config.pad_token_id);
  json["torch_dtype"] = extras.torch_dtype;
  json["use_cache"] = true;
  return json;
}

ordered_json hf_generation_config_json(const ModelConfig& config) {
  ordered_json json{{"_from_model_config", true}};
  if (config.bos_token_id >= 0) json["bos_token_id"] = config.bos_token_id;
  if (!config.eos_token_ids.empty()) json["eos_token_id"] = eos_ids(config);
  if (config.pad_token_id >= 0) json["pad_token_id"] = config.pad_token_id;
  return json;
}

}  // namespace abliterate::model
