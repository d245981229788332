// GGUF -> HF tensor names: see include/abliterate/model/gguf_tensor_names.hpp
// and spec/model-runtime.md §5.6 (read from gguf-py's tensor_mapping.py).
#include "abliterate/model/gguf_tensor_names.hpp"

#include <cctype>
#include <string_view>

#include <fmt/format.h>

#include "abliterate/model/tensor_names.hpp"

namespace abliterate::model {

namespace {

struct NamePair {
  std::string_view gguf;
  std::string_view hf;
};

// Whole-model tensors (relative to nothing: GGUF has no prefix).
constexpr NamePair kGlobalNames[] = {
    {"token_embd.weight", "model.embed_tokens.weight"},
    {"output_norm.weight", "model.norm.weight"},
    {"output.weight", "lm_head.weight"},
};

// Per-layer suffixes (after "blk.N." / "model.layers.N.") shared by every family.
constexpr NamePair kCommonLayerNames[] = {
    {"attn_norm.weight", "input_layernorm.weight"},
    {"attn_q.weight", "self_attn.q_proj.weight"},
    {"attn_q.bias", "self_attn.q_proj.bias"},
    {"attn_k.weight", "self_attn.k_proj.weight"},
    {"attn_k.bias", "self_attn.k_proj.bias"},
    {"attn_v.weight", "self_attn.v_proj.weight"},
    {"attn_v.bias", "self_attn.v_proj.bias"},
    {"attn_output.weight", "self_attn.o_proj.weight"},
    {"attn_output.bias", "self_attn.o_proj.bias"},
    {"attn_q_norm.weight", "self_attn.q_norm.weight"},
    {"attn_k_norm.weight", "self_attn.k_norm.weight"},
    {"ffn_gate.weight", "mlp.gate_proj.weight"},
    {"ffn_up.weight", "mlp.up_proj.weight"},
    {"ffn_down.weight", "mlp.down_proj.weight"},
};

// Llama, Qwen2, Qwen3: ffn_norm is the pre-MLP norm, HF's post_attention_layernorm.
constexpr NamePair kLlamaStyleLayerNames[] = {
    {"ffn_norm.weight", "post_attention_layernorm.weight"},
};

// Gemma 3: two pre norms and two post norms per block (spec §1.1).
constexpr NamePair kGemmaLayerNames[] = {
    {"ffn_norm.weight", "pre_feedforward_layernorm.weight"},
    {"post_attention_norm.weight", "post_attention_layernorm.weight"},
    {"post_ffw_norm.weight", "post_feedforward_layernorm.weight"},
};

constexpr std::string_view kGgufLayerPrefix = "blk.";

template <size_t N>
std::optional<std::string_view> lookup(const NamePair (&table)[N], std::string_view gguf) {
  for (const NamePair& pair : table) {
    if (pair.gguf == gguf) return pair.hf;
  }
  return std::nullopt;
}

}  // namespace

bool is_supported_gguf_architecture(const std::string& architecture) {
  return architecture == "gemma3" || architecture == "llama" || architecture == "qwen2" || architecture == "qwen3";
}

std::optional<std::string> hf_name_of_gguf_tensor(const std::string& architecture, const std::string& gguf_name) {
  if (!is_supported_gguf_architecture(architecture)) return std::nullopt;
  if (const auto hf = lookup(kGlobalNames, gguf_name)) return std::string(*hf);

  // "blk.<digits>.<suffix>"
  const std::string_view name = gguf_name;
  if (!name.starts_with(kGgufLayerPrefix)) return std::nullopt;
  const size_t digits_begin = kGgufLayerPrefix.size();
  size_t digits_end = digits_begin;
  while (digits_end < name.size() && std::isdigit(static_cast<unsigned char>(name[digits_end]))) ++digits_end;
  if (digits_end == digits_begin || digits_end >= name.size() || name[digits_end] != '.') return std::nullopt;
  // No leading zeros: "blk.03" would map to the same HF name as "blk.3".
  if (name[digits_begin] == '0' && digits_end - digits_begin > 1) return std::nullopt;
  const std::string_view layer = name.substr(digits_begin, digits_end - digits_begin);
  const std::string_view suffix = name.substr(digits_end + 1);

  std::optional<std::string_view> hf_suffix = lookup(kCommonLayerNames, suffix);
  if (!hf_suffix) {
    hf_suffix = architecture == "gemma3" ? lookup(kGemmaLayerNames, suffix) : lookup(kLlamaStyleLayerNames, suffix);
  }
  if (!hf_suffix) return std::nullopt;
  return fmt::format("{}layers.{}.{}", kHfTextPrefix, layer, *hf_suffix);
}

}  // namespace abliterate::model
