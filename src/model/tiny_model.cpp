// write_tiny_model: see include/abliterate/model/tiny_model.hpp. The Gemma 3
// folder is a faithful miniature of google/gemma-3-270m-it
// (spec/model-runtime.md §1.3): same file set, same config keys, same tensor
// names, same template. The other families' folders follow their HF checkpoints
// (spec §3) closely enough for transformers' *ForCausalLM to load them.
#include "abliterate/model/tiny_model.hpp"

#include <fstream>
#include <map>
#include <string_view>

#include <ATen/CPUGeneratorImpl.h>
#include <nlohmann/json.hpp>

#include "abliterate/chat/builtin_chat_templates.hpp"
#include "abliterate/chat/tiny_chat_templates.hpp"
#include "abliterate/common/error.hpp"
#include "abliterate/formats/hf_folder.hpp"
#include "abliterate/formats/safetensors_writer.hpp"
#include "abliterate/model/tensor_names.hpp"
#include "abliterate/model/tiny_tokenizer.hpp"

namespace abliterate::model {

namespace {

using nlohmann::ordered_json;

// Standard deviations of the random weights: large enough that logits differ
// clearly between tokens and contexts, small enough that nothing saturates.
constexpr double kTinyEmbedStd = 0.1;
constexpr double kTinyProjectionStd = 0.08;
constexpr double kTinyNormStd = 0.1;  // around 0 for Gemma (gain 1 + w), around 1 for the others (gain w)

// The Llama 3.2-style RoPE scaling of the tiny Llama: with head_dim 16 and base
// 5e5 its wavelengths fall on both sides of and between 8192/4 and 8192/1, so
// all three branches of the llama3 rule are exercised.
constexpr double kTinyLlamaRopeTheta = 500000.0;
constexpr double kTinyLlama3Factor = 32.0;
constexpr int64_t kTinyLlama3OriginalMaxPositions = 8192;

void write_text(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::path temp_path = path;
  temp_path += ".tmp";
  {
    std::ofstream out(temp_path, std::ios::binary | std::ios::trunc);
    ABL_CHECK(out.good(), IoError, "{}: cannot open for writing", temp_path.string());
    out << text;
    out.flush();
    ABL_CHECK(out.good(), IoError, "{}: short write", temp_path.string());
  }
  std::error_code ec;
  std::filesystem::rename(temp_path, path, ec);
  ABL_CHECK(!ec, IoError, "{}: cannot rename into place: {}", path.string(), ec.message());
}

ordered_json tiny_config_json(const TinyModelOptions& o, int64_t vocab_size) {
  ordered_json layer_types = ordered_json::array();
  for (int64_t layer_idx = 0; layer_idx < o.n_layers; ++layer_idx) {
    layer_types.push_back(layer_idx + 1 == o.n_layers ? "full_attention" : "sliding_attention");
  }
  return ordered_json{
      {"architectures", ordered_json::array({"Gemma3ForCausalLM"})},
      {"model_type", "gemma3_text"},
      {"hidden_size", o.hidden_size},
      {"intermediate_size", o.intermediate_size},
      {"num_hidden_layers", o.n_layers},
      {"num_attention_heads", o.n_heads},
      {"num_key_value_heads", o.n_kv_heads},
      {"head_dim", o.head_dim},
      {"vocab_size", vocab_size},
      {"max_position_embeddings", 2048},
      {"rms_norm_eps", 1e-6},
      {"rope_theta", 1000000.0},
      {"rope_local_base_freq", 10000.0},
      {"rope_scaling", nullptr},
      {"query_pre_attn_scalar", o.head_dim},
      {"sliding_window", o.sliding_window},
      {"layer_types", layer_types},
      {"hidden_activation", "gelu_pytorch_tanh"},
      {"attention_bias", false},
      {"attention_dropout", 0.0},
      {"attn_logit_softcapping", nullptr},
      {"final_logit_softcapping", nullptr},
      {"tie_word_embeddings", true},
      {"bos_token_id", kTinyBosId},
      {"eos_token_id", ordered_json::array({kTinyEosId, kTinyEndOfTurnId})},
      {"pad_token_id", kTinyPadId},
      {"torch_dtype", "float32"},
      {"use_cache", true},
  };
}

std::vector<int64_t> tiny_shape(LayerTensor tensor, const TinyModelOptions& o) {
  switch (tensor) {
    case LayerTensor::input_layernorm:
    case LayerTensor::post_attention_layernorm:
    case LayerTensor::pre_feedforward_layernorm:
    case LayerTensor::post_feedforward_layernorm: return {o.hidden_size};
    case LayerTensor::q_proj: return {o.n_heads * o.head_dim, o.hidden_size};
    case LayerTensor::k_proj:
    case LayerTensor::v_proj: return {o.n_kv_heads * o.head_dim, o.hidden_size};
    case LayerTensor::o_proj: return {o.hidden_size, o.n_heads * o.head_dim};
    case LayerTensor::q_norm:
    case LayerTensor::k_norm: return {o.head_dim};
    case LayerTensor::gate_proj:
    case LayerTensor::up_proj: return {o.intermediate_size, o.hidden_size};
    case LayerTensor::down_proj: return {o.hidden_size, o.intermediate_size};
    case LayerTensor::q_proj_bias: return {o.n_heads * o.head_dim};
    case LayerTensor::k_proj_bias:
    case LayerTensor::v_proj_bias: return {o.n_kv_heads * o.head_dim};
  }
  return {};
}

bool is_norm(LayerTensor tensor) {
  return tensor == LayerTensor::input_layernorm || tensor == LayerTensor::post_attention_layernorm ||
         tensor == LayerTensor::pre_feedforward_layernorm || tensor == LayerTensor::post_feedforward_layernorm ||
         tensor == LayerTensor::q_norm || tensor == LayerTensor::k_norm;
}

// The ModelConfig switches of the tiny model's family, for layer_tensors().
ModelConfig family_switches(const TinyModelOptions& o) {
  ModelConfig config;
  config.set_architecture(o.architecture);
  return config;
}

bool is_tied(Architecture a) {
  return a == Architecture::gemma3 || a == Architecture::qwen2 || a == Architecture::qwen3;
}

std::vector<formats::NamedTensor> tiny_weights(const TinyModelOptions& o, int64_t vocab_size) {
  // A private generator: the files depend on the seed only, never on global RNG state.
  at::Generator generator = at::detail::createCPUGenerator(o.seed);
  const auto random = [&](const std::vector<int64_t>& shape, double std) {
    return torch::randn(shape, generator, torch::TensorOptions().dtype(torch::kFloat32)) * std;  // float32
  };
  const ModelConfig switches = family_switches(o);
  // Gemma's norm weights are centred on 0 (gain 1 + w), the others' on 1.
  const double norm_centre = switches.norm_gain == NormGain::one_plus_weight ? 0.0 : 1.0;
  const auto random_norm = [&](const std::vector<int64_t>& shape) {
    torch::Tensor w = random(shape, kTinyNormStd);
    return norm_centre == 0.0 ? w : w + norm_centre;  // Gemma's bytes stay those of the plain draw
  };
  const std::string prefix = kHfTextPrefix;
  std::vector<formats::NamedTensor> tensors;
  tensors.push_back({prefix + kHfEmbedTokens, random({vocab_size, o.hidden_size}, kTinyEmbedStd)});
  for (int64_t layer_idx = 0; layer_idx < o.n_layers; ++layer_idx) {
    for (LayerTensor tensor : layer_tensors(switches)) {
      const std::string name = hf_layer_tensor_name(prefix, layer_idx, tensor);
      tensors.push_back({name, is_norm(tensor) ? random_norm(tiny_shape(tensor, o))
                                               : random(tiny_shape(tensor, o), kTinyProjectionStd)});
    }
  }
  tensors.push_back({prefix + kHfFinalNorm, random_norm({o.hidden_size})});
  if (!is_tied(o.architecture)) tensors.push_back({kHfLmHead, random({vocab_size, o.hidden_size}, kTinyEmbedStd)});
  return tensors;
}

// The chat tokens a family's template and config.json need, appended to the
// tiny vocabulary (the Gemma-style ids 0..6 stay as they are).
struct TinyChatTokens {
  std::vector<std::pair<std::string, bool>> added;  // content, is special
  std::string bos;                                  // config.json's bos_token_id
  bool template_has_bos = false;                    // tokenizer_config.json names bos_token
  std::vector<std::string> eos;                     // config.json's eos_token_id, in order
  std::string eos_token;                            // tokenizer_config.json's eos_token
};

TinyChatTokens tiny_chat_tokens(Architecture a) {
  switch (a) {
    case Architecture::llama:
      return {{{"<|begin_of_text|>", true},
               {"<|end_of_text|>", true},
               {"<|start_header_id|>", true},
               {"<|end_header_id|>", true},
               {"<|eot_id|>", true}},
              "<|begin_of_text|>",
              true,
              {"<|end_of_text|>", "<|eot_id|>"},
              "<|eot_id|>"};
    case Architecture::qwen2:
      return {{{"<|endoftext|>", true}, {"<|im_start|>", true}, {"<|im_end|>", true}},
              "<|endoftext|>",
              false,
              {"<|im_end|>", "<|endoftext|>"},
              "<|im_end|>"};
    case Architecture::qwen3:
      return {{{"<|endoftext|>", true}, {"<|im_start|>", true}, {"<|im_end|>", true}, {"<think>", false},
               {"</think>", false}},
              "<|endoftext|>",
              false,
              {"<|im_end|>", "<|endoftext|>"},
              "<|im_end|>"};
    case Architecture::mistral:
      return {{{"<s>", true}, {"</s>", true}, {"[INST]", true}, {"[/INST]", true}}, "<s>", true, {"</s>"}, "</s>"};
    case Architecture::gemma3: break;
  }
  return {};
}

std::string_view tiny_chat_template(Architecture a) {
  switch (a) {
    case Architecture::llama: return chat::kTinyLlama3ChatTemplate;
    case Architecture::qwen2: return chat::kTinyQwen2ChatTemplate;
    case Architecture::qwen3: return chat::kTinyQwen3ChatTemplate;
    case Architecture::mistral: return chat::kTinyMistralChatTemplate;
    case Architecture::gemma3: break;
  }
  return chat::kGemma3ChatTemplate;
}

// Appends `tokens` to the tiny tokenizer.json (added_tokens and vocab) and
// points its post-processor at the family's BOS (none for Qwen). Returns the
// ids of all added tokens by content.
std::map<std::string, int64_t> add_chat_tokens(ordered_json& tokenizer, const TinyChatTokens& tokens) {
  ordered_json& vocab = tokenizer.at("model").at("vocab");
  std::map<std::string, int64_t> ids;
  for (const auto& [content, is_special] : tokens.added) {
    const auto id = static_cast<int64_t>(vocab.size());
    ids[content] = id;
    vocab[content] = id;
    tokenizer.at("added_tokens").push_back(ordered_json{{"id", id},
                                                        {"content", content},
                                                        {"single_word", false},
                                                        {"lstrip", false},
                                                        {"rstrip", false},
                                                        {"normalized", false},
                                                        {"special", is_special}});
  }
  if (!tokens.template_has_bos) {
    tokenizer["post_processor"] = nullptr;
  } else {
    const ordered_json bos_template = ordered_json::array(
        {ordered_json{{"SpecialToken", {{"id", tokens.bos}, {"type_id", 0}}}},
         ordered_json{{"Sequence", {{"id", "A"}, {"type_id", 0}}}}});
    tokenizer["post_processor"] = ordered_json{
        {"type", "TemplateProcessing"},
        {"single", bos_template},
        {"pair", bos_template},
        {"special_tokens",
         {{tokens.bos,
           {{"id", tokens.bos}, {"ids", ordered_json::array({ids.at(tokens.bos)})}, {"tokens", ordered_json::array({tokens.bos})}}}}}};
  }
  return ids;
}

// config.json of a Llama / Mistral / Qwen tiny model, with the keys and
// legacy RoPE spelling (rope_theta, rope_scaling) their HF checkpoints use.
ordered_json family_config_json(const TinyModelOptions& o, int64_t vocab_size, const TinyChatTokens& tokens,
                                const std::map<std::string, int64_t>& ids) {
  ordered_json eos = ordered_json::array();
  for (const std::string& text : tokens.eos) eos.push_back(ids.at(text));
  const Architecture a = o.architecture;
  const char* architecture_name = a == Architecture::llama     ? "LlamaForCausalLM"
                                  : a == Architecture::mistral ? "MistralForCausalLM"
                                  : a == Architecture::qwen2   ? "Qwen2ForCausalLM"
                                                               : "Qwen3ForCausalLM";
  ordered_json config{
      {"architectures", ordered_json::array({architecture_name})},
      {"model_type", to_string(a)},
      {"hidden_size", o.hidden_size},
      {"intermediate_size", o.intermediate_size},
      {"num_hidden_layers", o.n_layers},
      {"num_attention_heads", o.n_heads},
      {"num_key_value_heads", o.n_kv_heads},
  };
  // Qwen2 checkpoints carry no head_dim (it is hidden/heads); the others name it.
  if (a != Architecture::qwen2) config["head_dim"] = o.head_dim;
  config["vocab_size"] = vocab_size;
  config["hidden_act"] = "silu";
  config["rms_norm_eps"] = a == Architecture::llama || a == Architecture::mistral ? 1e-5 : 1e-6;
  switch (a) {
    case Architecture::llama:
      config["max_position_embeddings"] = 131072;
      config["rope_theta"] = kTinyLlamaRopeTheta;
      config["rope_scaling"] = ordered_json{{"rope_type", "llama3"},
                                            {"factor", kTinyLlama3Factor},
                                            {"low_freq_factor", 1.0},
                                            {"high_freq_factor", 4.0},
                                            {"original_max_position_embeddings", kTinyLlama3OriginalMaxPositions}};
      config["attention_bias"] = false;
      config["mlp_bias"] = false;
      break;
    case Architecture::mistral:
      config["max_position_embeddings"] = 2048;
      config["rope_theta"] = 10000.0;
      config["sliding_window"] = o.sliding_window;
      break;
    case Architecture::qwen2:
    case Architecture::qwen3:
      config["max_position_embeddings"] = 2048;
      config["rope_theta"] = 1000000.0;
      config["use_sliding_window"] = false;
      config["sliding_window"] = nullptr;
      config["max_window_layers"] = o.n_layers;
      if (a == Architecture::qwen3) config["attention_bias"] = false;
      break;
    case Architecture::gemma3: break;
  }
  config["attention_dropout"] = 0.0;
  config["tie_word_embeddings"] = is_tied(a);
  config["bos_token_id"] = ids.at(tokens.bos);
  config["eos_token_id"] = eos;
  config["torch_dtype"] = "float32";
  config["use_cache"] = true;
  return config;
}

ordered_json tokenizer_config_json(const TinyChatTokens& tokens) {
  return ordered_json{{"bos_token", tokens.template_has_bos ? ordered_json(tokens.bos) : ordered_json(nullptr)},
                      {"eos_token", tokens.eos_token},
                      {"pad_token", nullptr},
                      {"unk_token", "<unk>"},
                      {"add_bos_token", false},
                      {"clean_up_tokenization_spaces", false},
                      {"model_max_length", 2048},
                      {"tokenizer_class", "PreTrainedTokenizerFast"}};
}

}  // namespace

TinyModelOptions TinyModelOptions::for_family(Architecture architecture) {
  TinyModelOptions options;
  options.architecture = architecture;
  if (architecture == Architecture::gemma3) return options;
  options.n_layers = 3;
  options.n_heads = 4;
  options.n_kv_heads = 2;
  options.head_dim = architecture == Architecture::qwen3 ? 32 : 16;  // Qwen3: q_proj wider than hidden, as in 0.6B
  return options;
}

std::optional<Architecture> tiny_family_from_name(const std::string& name) {
  for (Architecture a : {Architecture::gemma3, Architecture::llama, Architecture::mistral, Architecture::qwen2,
                         Architecture::qwen3}) {
    if (name == to_string(a)) return a;
  }
  return std::nullopt;
}

void write_tiny_model(const std::filesystem::path& folder, const TinyModelOptions& options) {
  const bool needs_window = options.architecture == Architecture::gemma3 || options.architecture == Architecture::mistral;
  ABL_CHECK(options.hidden_size > 0 && options.intermediate_size > 0 && options.n_layers > 0 && options.n_heads > 0 &&
                options.n_kv_heads > 0 && options.n_heads % options.n_kv_heads == 0 && options.head_dim > 0 &&
                options.head_dim % 2 == 0 && (!needs_window || options.sliding_window > 0),
            InputError, "tiny model: inconsistent options (need positive sizes, n_heads % n_kv_heads == 0, even "
            "head_dim)");
  ABL_CHECK(options.architecture != Architecture::qwen2 || options.head_dim * options.n_heads == options.hidden_size,
            InputError, "tiny model: qwen2 has no head_dim key, so head_dim * n_heads must equal hidden_size");
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  ABL_CHECK(!ec, IoError, "{}: cannot create folder: {}", folder.string(), ec.message());

  ordered_json tokenizer = tiny_tokenizer_json();
  if (options.architecture == Architecture::gemma3) {
    const auto vocab_size = static_cast<int64_t>(tokenizer.at("model").at("vocab").size());
    write_text(folder / formats::kHfConfigFile, tiny_config_json(options, vocab_size).dump(2) + "\n");
    write_text(folder / formats::kHfTokenizerFile, tokenizer.dump(2) + "\n");
    write_text(folder / formats::kHfChatTemplateFile, std::string(chat::kGemma3ChatTemplate));
    formats::write_safetensors(folder / formats::kHfWeightsFile, tiny_weights(options, vocab_size));
    return;
  }
  const TinyChatTokens tokens = tiny_chat_tokens(options.architecture);
  const std::map<std::string, int64_t> ids = add_chat_tokens(tokenizer, tokens);
  const auto vocab_size = static_cast<int64_t>(tokenizer.at("model").at("vocab").size());
  write_text(folder / formats::kHfConfigFile, family_config_json(options, vocab_size, tokens, ids).dump(2) + "\n");
  write_text(folder / formats::kHfTokenizerFile, tokenizer.dump(2) + "\n");
  write_text(folder / formats::kHfTokenizerConfigFile, tokenizer_config_json(tokens).dump(2) + "\n");
  write_text(folder / formats::kHfChatTemplateFile, std::string(tiny_chat_template(options.architecture)));
  formats::write_safetensors(folder / formats::kHfWeightsFile, tiny_weights(options, vocab_size));
}

}  // namespace abliterate::model
