// ModelConfig::from_hf_json: see include/abliterate/model/model_config.hpp and
// spec/model-runtime.md §1.2-§1.3 (Gemma 3 keys, layer pattern, RoPE forms).
#include "abliterate/model/model_config.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "abliterate/common/error.hpp"
#include "abliterate/model/json_file.hpp"

namespace abliterate::model {

const char* to_string(Architecture a) {
  switch (a) {
    case Architecture::gemma3: return "gemma3";
    case Architecture::llama: return "llama";
    case Architecture::qwen2: return "qwen2";
    case Architecture::qwen3: return "qwen3";
    case Architecture::mistral: return "mistral";
  }
  return "?";
}

namespace {

using nlohmann::json;

// Older Gemma 3 configs carry no layer_types, only this pattern: every 6th
// layer is global (spec §1.2 "Layer pattern"; llama.cpp hardcodes 6 too).
constexpr int64_t kGemma3DefaultSlidingWindowPattern = 6;

// Typed access to one JSON object, with errors "file: key 'path': ...".
class ConfigFields {
 public:
  ConfigFields(std::string file, const json& object, std::string key_prefix = "")
      : file_(std::move(file)), object_(object), key_prefix_(std::move(key_prefix)) {}

  bool has(const char* key) const { return object_.contains(key) && !object_.at(key).is_null(); }

  const json& at(const char* key) const {
    ABL_CHECK(has(key), FormatError, "{}: missing key '{}{}'", file_, key_prefix_, key);
    return object_.at(key);
  }

  int64_t get_int(const char* key) const { return as_int(key, at(key)); }
  int64_t get_int_or(const char* key, int64_t fallback) const { return has(key) ? get_int(key) : fallback; }

  int64_t get_positive_int(const char* key) const {
    const int64_t value = get_int(key);
    ABL_CHECK(value > 0, FormatError, "{}: key '{}{}': expected a positive integer, got {}", file_, key_prefix_, key,
              value);
    return value;
  }

  double get_double_or(const char* key, double fallback) const {
    if (!has(key)) return fallback;
    return as_double(key, at(key));
  }

  bool get_bool_or(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    const json& value = at(key);
    ABL_CHECK(value.is_boolean(), FormatError, "{}: key '{}{}': expected a boolean, got {}", file_, key_prefix_, key,
              value.dump());
    return value.get<bool>();
  }

  std::string get_string_or(const char* key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    const json& value = at(key);
    ABL_CHECK(value.is_string(), FormatError, "{}: key '{}{}': expected a string, got {}", file_, key_prefix_, key,
              value.dump());
    return value.get<std::string>();
  }

  // A token id given as a scalar, a list of scalars, or null (-> empty).
  std::vector<int64_t> get_id_list(const char* key) const {
    std::vector<int64_t> ids;
    if (!has(key)) return ids;
    const json& value = at(key);
    if (value.is_array()) {
      for (const auto& item : value) ids.push_back(as_int(key, item));
    } else {
      ids.push_back(as_int(key, value));
    }
    return ids;
  }

  int64_t as_int(const char* key, const json& value) const {
    ABL_CHECK(value.is_number_integer(), FormatError, "{}: key '{}{}': expected an integer, got {}", file_,
              key_prefix_, key, value.dump());
    return value.get<int64_t>();
  }

  double as_double(const char* key, const json& value) const {
    ABL_CHECK(value.is_number(), FormatError, "{}: key '{}{}': expected a number, got {}", file_, key_prefix_, key,
              value.dump());
    return value.get<double>();
  }

  const std::string& file() const { return file_; }
  const std::string& key_prefix() const { return key_prefix_; }

 private:
  std::string file_;
  const json& object_;
  std::string key_prefix_;
};

// The factor of a linear rope scaling object ({"rope_type"|"type": "linear", "factor": f});
// "default" gives 1. Other types are not implemented yet.
double linear_rope_factor(const ConfigFields& fields, const char* key, const json& scaling) {
  ABL_CHECK(scaling.is_object(), FormatError, "{}: key '{}{}': expected an object, got {}", fields.file(),
            fields.key_prefix(), key, scaling.dump());
  std::string type = "default";
  for (const char* type_key : {"rope_type", "type"}) {
    if (!scaling.contains(type_key)) continue;
    ABL_CHECK(scaling.at(type_key).is_string(), FormatError, "{}: key '{}{}.{}': expected a string, got {}",
              fields.file(), fields.key_prefix(), key, type_key, scaling.at(type_key).dump());
    type = scaling.at(type_key).get<std::string>();
    break;
  }
  if (type == "default") return 1.0;
  ABL_CHECK(type == "linear", FormatError, "{}: key '{}{}': rope type '{}' is not supported (expected default or "
            "linear)", fields.file(), fields.key_prefix(), key, type);
  ABL_CHECK(scaling.contains("factor") && scaling.at("factor").is_number(), FormatError,
            "{}: key '{}{}': linear rope scaling needs a numeric 'factor'", fields.file(), fields.key_prefix(), key);
  const double factor = scaling.at("factor").get<double>();
  ABL_CHECK(factor > 0, FormatError, "{}: key '{}{}.factor': expected a positive number, got {}", fields.file(),
            fields.key_prefix(), key, factor);
  return factor;
}

void read_rope(const ConfigFields& fields, ModelConfig& config) {
  if (fields.has("rope_parameters")) {
    // transformers v5: {"full_attention": {...}, "sliding_attention": {...}} (spec §1.2 "RoPE").
    const json& params = fields.at("rope_parameters");
    ABL_CHECK(params.is_object() && params.contains("full_attention") && params.contains("sliding_attention"),
              FormatError, "{}: key '{}rope_parameters': expected full_attention and sliding_attention entries",
              fields.file(), fields.key_prefix());
    const json& full = params.at("full_attention");
    const json& sliding = params.at("sliding_attention");
    ConfigFields full_fields(fields.file(), full, fields.key_prefix() + "rope_parameters.full_attention.");
    ConfigFields sliding_fields(fields.file(), sliding, fields.key_prefix() + "rope_parameters.sliding_attention.");
    config.rope_theta = full_fields.get_double_or("rope_theta", config.rope_theta);
    config.rope_local_theta = sliding_fields.get_double_or("rope_theta", config.rope_local_theta);
    config.rope_scaling_factor = linear_rope_factor(fields, "rope_parameters.full_attention", full);
    ABL_CHECK(linear_rope_factor(fields, "rope_parameters.sliding_attention", sliding) == 1.0, FormatError,
              "{}: key '{}rope_parameters.sliding_attention': scaling of sliding layers is not supported",
              fields.file(), fields.key_prefix());
    return;
  }
  config.rope_theta = fields.get_double_or("rope_theta", config.rope_theta);
  config.rope_local_theta = fields.get_double_or("rope_local_base_freq", config.rope_local_theta);
  if (fields.has("rope_scaling")) config.rope_scaling_factor = linear_rope_factor(fields, "rope_scaling", fields.at("rope_scaling"));
}

void read_layer_types(const ConfigFields& fields, ModelConfig& config) {
  config.layer_types.clear();
  if (fields.has("layer_types")) {
    const json& types = fields.at("layer_types");
    ABL_CHECK(types.is_array(), FormatError, "{}: key '{}layer_types': expected a list, got {}", fields.file(),
              fields.key_prefix(), types.dump());
    for (size_t i = 0; i < types.size(); ++i) {
      const std::string kind = types[i].is_string() ? types[i].get<std::string>() : types[i].dump();
      if (kind == "sliding_attention") config.layer_types.push_back(AttentionKind::sliding);
      else if (kind == "full_attention") config.layer_types.push_back(AttentionKind::full);
      else
        throw FormatError(fmt::format("{}: key '{}layer_types[{}]': expected \"sliding_attention\" or "
                                      "\"full_attention\", got {}", fields.file(), fields.key_prefix(), i, kind));
    }
    ABL_CHECK(static_cast<int64_t>(config.layer_types.size()) == config.n_layers, FormatError,
              "{}: key '{}layer_types': expected {} entries (num_hidden_layers), got {}", fields.file(),
              fields.key_prefix(), config.n_layers, config.layer_types.size());
    return;
  }
  int64_t pattern = kGemma3DefaultSlidingWindowPattern;
  if (fields.has("sliding_window_pattern")) pattern = fields.get_int("sliding_window_pattern");
  else if (fields.has("_sliding_window_pattern")) pattern = fields.get_int("_sliding_window_pattern");
  ABL_CHECK(pattern > 0, FormatError, "{}: key '{}sliding_window_pattern': expected a positive integer, got {}",
            fields.file(), fields.key_prefix(), pattern);
  for (int64_t i = 0; i < config.n_layers; ++i) {
    config.layer_types.push_back((i + 1) % pattern == 0 ? AttentionKind::full : AttentionKind::sliding);
  }
}

ModelConfig read_gemma3_text(const ConfigFields& fields) {
  ModelConfig config;
  config.architecture = Architecture::gemma3;
  config.hidden_size = fields.get_positive_int("hidden_size");
  config.intermediate_size = fields.get_positive_int("intermediate_size");
  config.n_layers = fields.get_positive_int("num_hidden_layers");
  config.n_heads = fields.get_positive_int("num_attention_heads");
  config.n_kv_heads = fields.get_positive_int("num_key_value_heads");
  config.head_dim = fields.get_positive_int("head_dim");
  config.vocab_size = fields.get_positive_int("vocab_size");
  ABL_CHECK(config.n_heads % config.n_kv_heads == 0, FormatError,
            "{}: num_attention_heads ({}) must be a multiple of num_key_value_heads ({})", fields.file(),
            config.n_heads, config.n_kv_heads);
  ABL_CHECK(config.head_dim % 2 == 0, FormatError, "{}: key '{}head_dim': RoPE needs an even head_dim, got {}",
            fields.file(), fields.key_prefix(), config.head_dim);
  config.rms_norm_eps = fields.get_double_or("rms_norm_eps", 1e-6);
  config.query_pre_attn_scalar = fields.get_double_or("query_pre_attn_scalar", static_cast<double>(config.head_dim));
  ABL_CHECK(config.query_pre_attn_scalar > 0, FormatError, "{}: key '{}query_pre_attn_scalar': expected a positive "
            "number, got {}", fields.file(), fields.key_prefix(), config.query_pre_attn_scalar);
  config.sliding_window = fields.get_int_or("sliding_window", 0);
  ABL_CHECK(config.sliding_window >= 0, FormatError, "{}: key '{}sliding_window': expected >= 0, got {}",
            fields.file(), fields.key_prefix(), config.sliding_window);
  read_layer_types(fields, config);
  const bool has_sliding = std::find(config.layer_types.begin(), config.layer_types.end(), AttentionKind::sliding) !=
                           config.layer_types.end();
  ABL_CHECK(!has_sliding || config.sliding_window > 0, FormatError,
            "{}: key '{}sliding_window': sliding_attention layers need a positive window", fields.file(),
            fields.key_prefix());
  read_rope(fields, config);
  config.tie_word_embeddings = fields.get_bool_or("tie_word_embeddings", true);
  config.attn_logit_softcapping = fields.get_double_or("attn_logit_softcapping", 0.0);
  config.final_logit_softcapping = fields.get_double_or("final_logit_softcapping", 0.0);

  const std::string activation = fields.get_string_or("hidden_activation", "gelu_pytorch_tanh");
  ABL_CHECK(activation == "gelu_pytorch_tanh", FormatError,
            "{}: key '{}hidden_activation': expected \"gelu_pytorch_tanh\", got \"{}\"", fields.file(),
            fields.key_prefix(), activation);
  ABL_CHECK(!fields.get_bool_or("use_bidirectional_attention", false), FormatError,
            "{}: key '{}use_bidirectional_attention': bidirectional (embedding) models are not supported",
            fields.file(), fields.key_prefix());
  ABL_CHECK(!fields.get_bool_or("attention_bias", false), FormatError,
            "{}: key '{}attention_bias': attention biases are not supported for gemma3", fields.file(),
            fields.key_prefix());
  return config;
}

}  // namespace

ModelConfig ModelConfig::from_hf_json(const std::filesystem::path& config_json) {
  const json root = read_json_file(config_json);
  const std::string file = config_json.string();
  ABL_CHECK(root.is_object(), FormatError, "{}: expected a JSON object, got {}", file, root.type_name());
  const ConfigFields top(file, root);
  const std::string model_type = top.get_string_or("model_type", "");
  ModelConfig config;
  if (model_type == "gemma3_text") {
    config = read_gemma3_text(top);
  } else if (model_type == "gemma3") {
    // Multimodal checkpoints nest the text model (spec §1.4).
    ABL_CHECK(top.has("text_config") && top.at("text_config").is_object(), FormatError,
              "{}: model_type gemma3 needs a 'text_config' object", file);
    config = read_gemma3_text(ConfigFields(file, top.at("text_config"), "text_config."));
  } else {
    throw FormatError(fmt::format("{}: key 'model_type': \"{}\" is not supported yet (expected \"gemma3_text\" or "
                                  "\"gemma3\")", file, model_type));
  }
  // Token ids live at the top level (and, for nested configs, sometimes in text_config).
  const bool nested = model_type == "gemma3";
  const ConfigFields ids = nested && !top.has("eos_token_id") ? ConfigFields(file, top.at("text_config"), "text_config.")
                                                              : top;
  config.bos_token_id = ids.get_int_or("bos_token_id", -1);
  config.pad_token_id = ids.get_int_or("pad_token_id", -1);
  config.eos_token_ids = ids.get_id_list("eos_token_id");
  return config;
}

ModelConfig ModelConfig::from_hf_folder(const std::filesystem::path& folder) {
  ModelConfig config = from_hf_json(folder / "config.json");
  const auto generation_config = folder / "generation_config.json";
  std::error_code ec;
  if (std::filesystem::exists(generation_config, ec)) {
    const json root = read_json_file(generation_config);
    ABL_CHECK(root.is_object(), FormatError, "{}: expected a JSON object, got {}", generation_config.string(),
              root.type_name());
    for (int64_t id : ConfigFields(generation_config.string(), root).get_id_list("eos_token_id")) {
      if (std::find(config.eos_token_ids.begin(), config.eos_token_ids.end(), id) == config.eos_token_ids.end()) {
        config.eos_token_ids.push_back(id);
      }
    }
  }
  return config;
}

}  // namespace abliterate::model
