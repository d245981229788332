// ModelConfig::from_hf_json: see include/abliterate/model/model_config.hpp and
// spec/model-runtime.md §1.2-§1.3 (Gemma 3 keys, layer pattern, RoPE forms)
// and §3 (Llama, Mistral, Qwen2, Qwen3).
#include "abliterate/model/model_config.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "abliterate/common/error.hpp"
#include "abliterate/formats/hf_folder.hpp"
#include "abliterate/formats/json_file.hpp"

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

void ModelConfig::set_architecture(Architecture a) {
  architecture = a;
  const bool is_gemma = a == Architecture::gemma3;
  norm_gain = is_gemma ? NormGain::one_plus_weight : NormGain::weight;
  has_post_norms = is_gemma;
  has_qk_norm = is_gemma || a == Architecture::qwen3;
  has_qkv_bias = a == Architecture::qwen2;
  mlp_activation = is_gemma ? MlpActivation::gelu_tanh : MlpActivation::silu;
  scales_embeddings = is_gemma;
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
  // Present with the value null (which some families read differently from absent).
  bool is_null(const char* key) const { return object_.contains(key) && object_.at(key).is_null(); }

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

// A rope scaling object ({"rope_type"|"type": ..., "factor": f, ...}, also
// transformers v5's flat rope_parameters): "default" leaves `config`
// unscaled, "linear" sets rope_scaling_factor, "llama3" sets rope_llama3
// (original_max_position_embeddings defaults to max_position_embeddings, as
// transformers does). Other types are not implemented.
void read_rope_scaling(const ConfigFields& fields, const std::string& key, const json& scaling,
                       int64_t max_position_embeddings, ModelConfig& config) {
  ABL_CHECK(scaling.is_object(), FormatError, "{}: key '{}{}': expected an object, got {}", fields.file(),
            fields.key_prefix(), key, scaling.dump());
  const ConfigFields params(fields.file(), scaling, fields.key_prefix() + key + ".");
  const std::string type = params.get_string_or("rope_type", params.get_string_or("type", "default"));
  if (type == "default") return;
  ABL_CHECK(type == "linear" || type == "llama3", FormatError,
            "{}: key '{}{}': rope type '{}' is not supported (expected default, linear or llama3)", fields.file(),
            fields.key_prefix(), key, type);
  ABL_CHECK(params.has("factor"), FormatError, "{}: key '{}{}': {} rope scaling needs a numeric 'factor'",
            fields.file(), fields.key_prefix(), key, type);
  const double factor = params.as_double("factor", params.at("factor"));
  ABL_CHECK(factor > 0, FormatError, "{}: key '{}{}.factor': expected a positive number, got {}", fields.file(),
            fields.key_prefix(), key, factor);
  if (type == "linear") {
    config.rope_scaling_factor = factor;
    return;
  }
  Llama3RopeScaling& llama3 = config.rope_llama3;
  llama3.factor = factor;
  llama3.low_freq_factor = params.get_double_or("low_freq_factor", llama3.low_freq_factor);
  llama3.high_freq_factor = params.get_double_or("high_freq_factor", llama3.high_freq_factor);
  llama3.original_max_position_embeddings =
      params.get_double_or("original_max_position_embeddings", static_cast<double>(max_position_embeddings));
  ABL_CHECK(llama3.low_freq_factor > 0 && llama3.high_freq_factor > llama3.low_freq_factor &&
                llama3.original_max_position_embeddings > 0,
            FormatError, "{}: key '{}{}': llama3 rope scaling needs 0 < low_freq_factor < high_freq_factor and a "
            "positive original_max_position_embeddings", fields.file(), fields.key_prefix(), key);
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
    const int64_t max_positions = fields.get_int_or("max_position_embeddings", 0);
    read_rope_scaling(fields, "rope_parameters.full_attention", full, max_positions, config);
    ModelConfig sliding_scaling;
    read_rope_scaling(fields, "rope_parameters.sliding_attention", sliding, max_positions, sliding_scaling);
    ABL_CHECK(sliding_scaling.rope_scaling_factor == 1.0 && sliding_scaling.rope_llama3.factor == 0, FormatError,
              "{}: key '{}rope_parameters.sliding_attention': scaling of sliding layers is not supported",
              fields.file(), fields.key_prefix());
    return;
  }
  config.rope_theta = fields.get_double_or("rope_theta", config.rope_theta);
  config.rope_local_theta = fields.get_double_or("rope_local_base_freq", config.rope_local_theta);
  if (fields.has("rope_scaling")) {
    read_rope_scaling(fields, "rope_scaling", fields.at("rope_scaling"), fields.get_int_or("max_position_embeddings", 0),
                      config);
  }
}

// An explicit layer_types list, when config.json has one (false otherwise).
bool read_explicit_layer_types(const ConfigFields& fields, ModelConfig& config) {
  if (!fields.has("layer_types")) return false;
  config.layer_types.clear();
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
  return true;
}

void read_gemma3_layer_types(const ConfigFields& fields, ModelConfig& config) {
  if (read_explicit_layer_types(fields, config)) return;
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
  config.set_architecture(Architecture::gemma3);
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
  read_gemma3_layer_types(fields, config);
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

// The families of spec §3 other than Gemma: pre-norm blocks, SwiGLU, w·x̂
// RMSNorm, one RoPE table for every layer. Defaults are those of the family's
// transformers config class, so a config.json that omits a key means the same here.
ModelConfig read_llama_family(const ConfigFields& fields, Architecture architecture) {
  ModelConfig config;
  config.set_architecture(architecture);
  const std::string& file = fields.file();
  config.hidden_size = fields.get_positive_int("hidden_size");
  config.intermediate_size = fields.get_positive_int("intermediate_size");
  config.n_layers = fields.get_positive_int("num_hidden_layers");
  config.n_heads = fields.get_positive_int("num_attention_heads");
  config.n_kv_heads = fields.has("num_key_value_heads") ? fields.get_positive_int("num_key_value_heads") : config.n_heads;
  config.vocab_size = fields.get_positive_int("vocab_size");
  ABL_CHECK(config.n_heads % config.n_kv_heads == 0, FormatError,
            "{}: num_attention_heads ({}) must be a multiple of num_key_value_heads ({})", file, config.n_heads,
            config.n_kv_heads);
  if (fields.has("head_dim")) {
    config.head_dim = fields.get_positive_int("head_dim");
  } else if (architecture == Architecture::qwen3) {
    config.head_dim = 128;  // Qwen3Config's default, not hidden/heads
  } else {
    ABL_CHECK(config.hidden_size % config.n_heads == 0, FormatError,
              "{}: without 'head_dim', hidden_size ({}) must be a multiple of num_attention_heads ({})", file,
              config.hidden_size, config.n_heads);
    config.head_dim = config.hidden_size / config.n_heads;
  }
  ABL_CHECK(config.head_dim % 2 == 0, FormatError, "{}: key 'head_dim': RoPE needs an even head_dim, got {}", file,
            config.head_dim);
  config.query_pre_attn_scalar = static_cast<double>(config.head_dim);  // scale head_dim^-0.5
  config.rms_norm_eps = fields.get_double_or("rms_norm_eps", 1e-6);
  config.tie_word_embeddings = fields.get_bool_or("tie_word_embeddings", false);

  const std::string activation = fields.get_string_or("hidden_act", "silu");
  ABL_CHECK(activation == "silu" || activation == "swish", FormatError,
            "{}: key 'hidden_act': expected \"silu\", got \"{}\"", file, activation);
  // Llama and Qwen3 put a bias on all four attention projections when asked;
  // abliteration hooks o_proj's output, so a biased o_proj is refused. (Qwen2's
  // q/k/v bias is structural: has_qkv_bias.)
  ABL_CHECK(!fields.get_bool_or("attention_bias", false), FormatError,
            "{}: key 'attention_bias': attention biases are not supported for {}", file, to_string(architecture));
  ABL_CHECK(!fields.get_bool_or("mlp_bias", false), FormatError, "{}: key 'mlp_bias': MLP biases are not supported",
            file);

  // Sliding windows: Mistral on every layer (absent key = 4096, null = none);
  // Qwen only with use_sliding_window, on layers >= max_window_layers unless
  // layer_types says otherwise; Llama never.
  config.layer_types.assign(static_cast<size_t>(config.n_layers), AttentionKind::full);
  if (architecture == Architecture::mistral) {
    config.sliding_window = fields.is_null("sliding_window") ? 0 : fields.get_int_or("sliding_window", 4096);
    if (config.sliding_window > 0) config.layer_types.assign(config.layer_types.size(), AttentionKind::sliding);
  } else if ((architecture == Architecture::qwen2 || architecture == Architecture::qwen3) &&
             fields.get_bool_or("use_sliding_window", false)) {
    config.sliding_window = fields.is_null("sliding_window") ? 0 : fields.get_int_or("sliding_window", 4096);
    if (config.sliding_window > 0 && !read_explicit_layer_types(fields, config)) {
      const int64_t first_sliding = fields.get_int_or("max_window_layers", 28);
      for (int64_t i = first_sliding; i < config.n_layers; ++i) {
        config.layer_types[static_cast<size_t>(i)] = AttentionKind::sliding;
      }
    }
    if (config.sliding_window == 0) config.layer_types.assign(config.layer_types.size(), AttentionKind::full);
  }
  ABL_CHECK(config.sliding_window >= 0, FormatError, "{}: key 'sliding_window': expected >= 0, got {}", file,
            config.sliding_window);

  // RoPE: legacy rope_theta + rope_scaling, or transformers v5's flat rope_parameters.
  config.rope_theta = 1e4;
  const int64_t max_positions = fields.get_int_or("max_position_embeddings", 0);
  if (fields.has("rope_parameters")) {
    const json& params = fields.at("rope_parameters");
    ABL_CHECK(params.is_object() && !params.contains("full_attention") && !params.contains("sliding_attention"),
              FormatError, "{}: key 'rope_parameters': expected one flat object for {}", file, to_string(architecture));
    config.rope_theta = ConfigFields(file, params, "rope_parameters.").get_double_or("rope_theta",
                                                                                     fields.get_double_or("rope_theta", 1e4));
    read_rope_scaling(fields, "rope_parameters", params, max_positions, config);
  } else {
    config.rope_theta = fields.get_double_or("rope_theta", 1e4);
    if (fields.has("rope_scaling")) read_rope_scaling(fields, "rope_scaling", fields.at("rope_scaling"), max_positions, config);
  }
  ABL_CHECK(config.rope_theta > 0, FormatError, "{}: key 'rope_theta': expected a positive number, got {}", file,
            config.rope_theta);
  config.rope_local_theta = config.rope_theta;  // one RoPE table for every layer
  // The decoder scales full-attention layers only (Gemma's rule); these families scale every layer.
  const bool is_scaled = config.rope_scaling_factor != 1.0 || config.rope_llama3.factor != 0;
  const bool has_sliding = std::find(config.layer_types.begin(), config.layer_types.end(), AttentionKind::sliding) !=
                           config.layer_types.end();
  ABL_CHECK(!(is_scaled && has_sliding), FormatError,
            "{}: RoPE scaling together with sliding-window layers is not supported for {}", file,
            to_string(architecture));
  return config;
}

// model_type of config.json -> architecture; false when unknown.
bool architecture_of_model_type(const std::string& model_type, Architecture& architecture) {
  if (model_type == "llama") architecture = Architecture::llama;
  else if (model_type == "mistral") architecture = Architecture::mistral;
  else if (model_type == "qwen2") architecture = Architecture::qwen2;
  else if (model_type == "qwen3") architecture = Architecture::qwen3;
  else return false;
  return true;
}

}  // namespace

ModelConfig ModelConfig::from_hf_json(const std::filesystem::path& config_json) {
  const json root = formats::read_json_file(config_json);
  const std::string file = config_json.string();
  ABL_CHECK(root.is_object(), FormatError, "{}: expected a JSON object, got {}", file, root.type_name());
  const ConfigFields top(file, root);
  const std::string model_type = top.get_string_or("model_type", "");
  ModelConfig config;
  Architecture architecture = Architecture::gemma3;
  if (architecture_of_model_type(model_type, architecture)) {
    config = read_llama_family(top, architecture);
  } else if (model_type == "gemma3_text") {
    config = read_gemma3_text(top);
  } else if (model_type == "gemma3") {
    // Multimodal checkpoints nest the text model (spec §1.4).
    ABL_CHECK(top.has("text_config") && top.at("text_config").is_object(), FormatError,
              "{}: model_type gemma3 needs a 'text_config' object", file);
    config = read_gemma3_text(ConfigFields(file, top.at("text_config"), "text_config."));
  } else {
    throw FormatError(fmt::format("{}: key 'model_type': \"{}\" is not supported (expected gemma3_text, gemma3, "
                                  "llama, mistral, qwen2 or qwen3)", file, model_type));
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
  ModelConfig config = from_hf_json(folder / formats::kHfConfigFile);
  const auto generation_config = folder / formats::kHfGenerationConfigFile;
  std::error_code ec;
  if (std::filesystem::exists(generation_config, ec)) {
    const json root = formats::read_json_file(generation_config);
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
