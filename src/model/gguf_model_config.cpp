// model_config_from_gguf: see include/abliterate/model/gguf_model_config.hpp
// and spec/model-runtime.md §5.5 (keys), §1.2-§1.3 (Gemma 3), §3 (families).
#include "abliterate/model/gguf_model_config.hpp"

#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>

#include "abliterate/common/error.hpp"

namespace abliterate::model {

namespace {

// llama.cpp hardcodes Gemma 3's layer pattern: every 6th layer is global (spec §1.2).
constexpr int64_t kGemma3SlidingWindowPattern = 6;
// Gemma 3's local RoPE base when the file predates rope.freq_base_swa (spec §5.5).
constexpr double kGemma3DefaultLocalRopeBase = 10000.0;
// llama.cpp's rope.freq_base default.
constexpr double kDefaultRopeBase = 10000.0;
// The block count of Gemma 3 27B, whose attention scale llama.cpp takes from hidden/heads (spec §1.2).
constexpr int64_t kGemma3_27bBlockCount = 62;

Architecture architecture_of(const formats::GgufReader& reader, const std::string& name) {
  if (name == "gemma3") return Architecture::gemma3;
  if (name == "llama") return Architecture::llama;
  if (name == "qwen2") return Architecture::qwen2;
  if (name == "qwen3") return Architecture::qwen3;
  throw FormatError(fmt::format("{}: key 'general.architecture': \"{}\" is not supported (expected gemma3, llama, "
                                "qwen2 or qwen3)", reader.path().string(), name));
}

// Typed access to the "{arch}." keys, with errors naming the file and key.
class ArchKeys {
 public:
  ArchKeys(const formats::GgufReader& reader, std::string arch) : reader_(reader), prefix_(std::move(arch) + ".") {}

  int64_t positive_int(const std::string& suffix) const {
    const int64_t value = reader_.get_int(prefix_ + suffix);
    ABL_CHECK(value > 0, FormatError, "{}: key '{}{}': expected a positive integer, got {}", file(), prefix_, suffix,
              value);
    return value;
  }
  std::optional<int64_t> find_int(const std::string& suffix) const { return reader_.find_int(prefix_ + suffix); }

  // An f32 value as the shortest decimal that rounds to it (what the HF config held); f64 as is.
  std::optional<double> find_float(const std::string& suffix) const {
    const std::string key = prefix_ + suffix;
    const std::optional<double> value = reader_.find_float(key);
    if (!value.has_value()) return value;
    const formats::GgufKeyInfo* info = reader_.find_key(key);
    if (info->type != formats::GgufValueType::f32) return value;
    const std::string shortest = fmt::format("{}", static_cast<float>(*value));
    return std::strtod(shortest.c_str(), nullptr);
  }
  double positive_float(const std::string& suffix, std::optional<double> fallback = std::nullopt) const {
    const std::optional<double> found = find_float(suffix);
    ABL_CHECK(found.has_value() || fallback.has_value(), FormatError, "{}: key '{}{}' is missing", file(), prefix_,
              suffix);
    const double value = found.value_or(fallback.value_or(0.0));
    ABL_CHECK(value > 0, FormatError, "{}: key '{}{}': expected a positive number, got {}", file(), prefix_, suffix,
              value);
    return value;
  }
  std::optional<std::string> find_string(const std::string& suffix) const {
    return reader_.find_string(prefix_ + suffix);
  }

  std::string file() const { return reader_.path().string(); }
  const std::string& prefix() const { return prefix_; }

 private:
  const formats::GgufReader& reader_;
  std::string prefix_;
};

// {arch}.rope.scaling.type/.factor: none -> 1, linear -> factor; others are not implemented.
double rope_scaling_factor(const ArchKeys& keys) {
  const std::string type = keys.find_string("rope.scaling.type").value_or("none");
  if (type == "none") return 1.0;
  ABL_CHECK(type == "linear", FormatError, "{}: key '{}rope.scaling.type': \"{}\" is not supported (expected none or "
            "linear)", keys.file(), keys.prefix(), type);
  return keys.positive_float("rope.scaling.factor");
}

void add_unique(std::vector<int64_t>& ids, int64_t id) {
  if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
}

}  // namespace

ModelConfig model_config_from_gguf(const formats::GgufReader& reader) {
  const std::string file = reader.path().string();
  const std::string arch = reader.get_string("general.architecture");
  const ArchKeys keys(reader, arch);

  ModelConfig config;
  config.set_architecture(architecture_of(reader, arch));
  config.n_layers = keys.positive_int("block_count");
  config.hidden_size = keys.positive_int("embedding_length");
  config.intermediate_size = keys.positive_int("feed_forward_length");
  config.n_heads = keys.positive_int("attention.head_count");
  config.n_kv_heads = keys.find_int("attention.head_count_kv").has_value() ? keys.positive_int("attention.head_count_kv")
                                                                            : config.n_heads;
  ABL_CHECK(config.n_heads % config.n_kv_heads == 0, FormatError,
            "{}: key '{}attention.head_count' ({}) must be a multiple of '{}attention.head_count_kv' ({})", file,
            keys.prefix(), config.n_heads, keys.prefix(), config.n_kv_heads);
  if (keys.find_int("attention.key_length").has_value()) {
    config.head_dim = keys.positive_int("attention.key_length");
  } else {
    ABL_CHECK(config.hidden_size % config.n_heads == 0, FormatError,
              "{}: key '{}attention.key_length' is missing and embedding_length {} is not a multiple of head_count {}",
              file, keys.prefix(), config.hidden_size, config.n_heads);
    config.head_dim = config.hidden_size / config.n_heads;
  }
  ABL_CHECK(config.head_dim % 2 == 0, FormatError, "{}: RoPE needs an even head dimension, got {}", file,
            config.head_dim);
  const int64_t value_dim = keys.find_int("attention.value_length").value_or(config.head_dim);
  ABL_CHECK(value_dim == config.head_dim, FormatError,
            "{}: key '{}attention.value_length': expected {} (key_length), got {}", file, keys.prefix(),
            config.head_dim, value_dim);
  const int64_t rope_dims = keys.find_int("rope.dimension_count").value_or(config.head_dim);
  ABL_CHECK(rope_dims == config.head_dim, FormatError,
            "{}: key '{}rope.dimension_count': partial rotary embeddings are not supported (expected {}, got {})",
            file, keys.prefix(), config.head_dim, rope_dims);

  // spec §5.7.3: the embedding's rows, not a vocab_size key, give the vocabulary size.
  const formats::GgufTensorInfo& embed = reader.tensor_info("token_embd.weight");
  ABL_CHECK(embed.shape.size() == 2 && embed.shape[1] == config.hidden_size, FormatError,
            "{}: tensor 'token_embd.weight': expected shape [n_vocab, {}], got {} dimensions", file,
            config.hidden_size, embed.shape.size());
  config.vocab_size = embed.shape[0];
  config.tie_word_embeddings = reader.find_tensor("output.weight") == nullptr;
  // Llama 3.1+ files carry their rope scaling as per-frequency divisors (spec §5.7.7), not as keys.
  ABL_CHECK(reader.find_tensor("rope_freqs.weight") == nullptr, FormatError,
            "{}: tensor 'rope_freqs.weight': llama3 rope scaling from GGUF rope factors is not supported yet", file);

  config.rms_norm_eps = keys.positive_float("attention.layer_norm_rms_epsilon");
  config.rope_theta = keys.positive_float("rope.freq_base", kDefaultRopeBase);
  config.rope_scaling_factor = rope_scaling_factor(keys);
  config.query_pre_attn_scalar = static_cast<double>(config.head_dim);

  if (config.architecture == Architecture::gemma3) {
    config.rope_local_theta = keys.positive_float("rope.freq_base_swa", kGemma3DefaultLocalRopeBase);
    config.sliding_window = keys.positive_int("attention.sliding_window");
    for (int64_t layer_idx = 0; layer_idx < config.n_layers; ++layer_idx) {
      config.layer_types.push_back((layer_idx + 1) % kGemma3SlidingWindowPattern == 0 ? AttentionKind::full
                                                                                       : AttentionKind::sliding);
    }
    if (config.n_layers == kGemma3_27bBlockCount) {
      config.query_pre_attn_scalar = static_cast<double>(config.hidden_size / config.n_heads);
    }
    config.attn_logit_softcapping = keys.find_float("attn_logit_softcapping").value_or(0.0);
    config.final_logit_softcapping = keys.find_float("final_logit_softcapping").value_or(0.0);
  } else {
    // Llama, Qwen2/3: every layer attends to everything (Qwen2's window is off in practice; spec §3).
    config.rope_local_theta = config.rope_theta;
    config.sliding_window = 0;
    config.layer_types.assign(static_cast<size_t>(config.n_layers), AttentionKind::full);
  }

  config.bos_token_id = reader.find_int("tokenizer.ggml.bos_token_id").value_or(-1);
  config.pad_token_id = reader.find_int("tokenizer.ggml.padding_token_id").value_or(-1);
  for (const char* key : {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"}) {
    if (const std::optional<int64_t> id = reader.find_int(key)) {
      ABL_CHECK(*id >= 0 && *id < config.vocab_size, FormatError, "{}: key '{}': {} is not a token id (vocab size {})",
                file, key, *id, config.vocab_size);
      add_unique(config.eos_token_ids, *id);
    }
  }
  return config;
}

}  // namespace abliterate::model
