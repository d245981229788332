// write_tiny_model: see include/abliterate/model/tiny_model.hpp. The folder is
// a faithful miniature of google/gemma-3-270m-it (spec/model-runtime.md §1.3):
// same file set, same config keys, same tensor names, same template.
#include "abliterate/model/tiny_model.hpp"

#include <fstream>

#include <ATen/CPUGeneratorImpl.h>
#include <nlohmann/json.hpp>

#include "abliterate/common/error.hpp"
#include "abliterate/model/safetensors_writer.hpp"
#include "abliterate/model/tensor_names.hpp"
#include "abliterate/model/tiny_tokenizer.hpp"

namespace abliterate::model {

namespace {

using nlohmann::ordered_json;

// Standard deviations of the random weights: large enough that logits differ
// clearly between tokens and contexts, small enough that nothing saturates.
constexpr double kTinyEmbedStd = 0.1;
constexpr double kTinyProjectionStd = 0.08;
constexpr double kTinyNormStd = 0.1;  // norm weights are centred on 0 (gain 1 + w)

// HF's Gemma 3 chat template (chat_template.jinja of google/gemma-3-270m-it;
// spec §2), newlines inside string literals included.
constexpr const char* kGemma3ChatTemplate = R"TEMPLATE({{ bos_token }}
{%- if messages[0]['role'] == 'system' -%}
    {%- if messages[0]['content'] is string -%}
        {%- set first_user_prefix = messages[0]['content'] + '

' -%}
    {%- else -%}
        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '

' -%}
    {%- endif -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set first_user_prefix = "" -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
        {{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}
    {%- endif -%}
    {%- if (message['role'] == 'assistant') -%}
        {%- set role = "model" -%}
    {%- else -%}
        {%- set role = message['role'] -%}
    {%- endif -%}
    {{ '<start_of_turn>' + role + '
' + (first_user_prefix if loop.first else "") }}
    {%- if message['content'] is string -%}
        {{ message['content'] | trim }}
    {%- elif message['content'] is iterable -%}
        {%- for item in message['content'] -%}
            {%- if item['type'] == 'image' -%}
                {{ '<start_of_image>' }}
            {%- elif item['type'] == 'text' -%}
                {{ item['text'] | trim }}
            {%- endif -%}
        {%- endfor -%}
    {%- else -%}
        {{ raise_exception("Invalid content type") }}
    {%- endif -%}
    {{ '<end_of_turn>
' }}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{'<start_of_turn>model
'}}
{%- endif -%}
)TEMPLATE";

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
  }
  return {};
}

bool is_norm(LayerTensor tensor) {
  return tensor == LayerTensor::input_layernorm || tensor == LayerTensor::post_attention_layernorm ||
         tensor == LayerTensor::pre_feedforward_layernorm || tensor == LayerTensor::post_feedforward_layernorm ||
         tensor == LayerTensor::q_norm || tensor == LayerTensor::k_norm;
}

std::vector<NamedTensor> tiny_weights(const TinyModelOptions& o, int64_t vocab_size) {
  // A private generator: the files depend on the seed only, never on global RNG state.
  at::Generator generator = at::detail::createCPUGenerator(o.seed);
  const auto random = [&](const std::vector<int64_t>& shape, double std) {
    return torch::randn(shape, generator, torch::TensorOptions().dtype(torch::kFloat32)) * std;  // float32
  };
  const std::string prefix = kHfTextPrefix;
  std::vector<NamedTensor> tensors;
  tensors.push_back({prefix + kHfEmbedTokens, random({vocab_size, o.hidden_size}, kTinyEmbedStd)});
  for (int64_t layer_idx = 0; layer_idx < o.n_layers; ++layer_idx) {
    for (LayerTensor tensor : kAllLayerTensors) {
      tensors.push_back({hf_layer_tensor_name(prefix, layer_idx, tensor),
                         random(tiny_shape(tensor, o), is_norm(tensor) ? kTinyNormStd : kTinyProjectionStd)});
    }
  }
  tensors.push_back({prefix + kHfFinalNorm, random({o.hidden_size}, kTinyNormStd)});
  return tensors;
}

}  // namespace

void write_tiny_model(const std::filesystem::path& folder, const TinyModelOptions& options) {
  ABL_CHECK(options.hidden_size > 0 && options.intermediate_size > 0 && options.n_layers > 0 && options.n_heads > 0 &&
                options.n_kv_heads > 0 && options.n_heads % options.n_kv_heads == 0 && options.head_dim > 0 &&
                options.head_dim % 2 == 0 && options.sliding_window > 0,
            InputError, "tiny model: inconsistent options (need positive sizes, n_heads % n_kv_heads == 0, even "
            "head_dim)");
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  ABL_CHECK(!ec, IoError, "{}: cannot create folder: {}", folder.string(), ec.message());

  const ordered_json tokenizer = tiny_tokenizer_json();
  const auto vocab_size = static_cast<int64_t>(tokenizer.at("model").at("vocab").size());
  write_text(folder / "config.json", tiny_config_json(options, vocab_size).dump(2) + "\n");
  write_text(folder / "tokenizer.json", tokenizer.dump(2) + "\n");
  write_text(folder / "chat_template.jinja", kGemma3ChatTemplate);
  write_safetensors(folder / "model.safetensors", tiny_weights(options, vocab_size));
}

}  // namespace abliterate::model
