// config.json and generation_config.json of a ModelConfig: the inverse of
// ModelConfig::from_hf_json, for `abliterate export` of a GGUF model, so that
// transformers' AutoModelForCausalLM and our own loader read back the model
// the GGUF metadata describes. Keys and spellings follow the family's
// transformers config class (spec/model-runtime.md §3).
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "abliterate/model/model_config.hpp"

namespace abliterate::model {

struct HfConfigExtras {
  int64_t max_position_embeddings = 0;  // GGUF {arch}.context_length; 0 = the family's default
  std::string torch_dtype = "bfloat16";  // of the weights written beside it
};

// Throws InputError for what a config.json of the family cannot say (sliding
// windows on a Llama or Qwen model, linear RoPE scaling on Qwen).
nlohmann::ordered_json hf_config_json(const ModelConfig& config, const HfConfigExtras& extras);

// bos, eos (one id or a list) and pad token ids, as generation_config.json.
nlohmann::ordered_json hf_generation_config_json(const ModelConfig& config);

}  // namespace abliterate::model
