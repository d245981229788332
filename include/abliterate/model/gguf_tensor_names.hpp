// The GGUF -> HF tensor-name map (spec/model-runtime.md §5.6), in one table,
// so the GGUF loader and the exporter never spell it twice. GGUF names are
// llama.cpp's ("blk.3.attn_q.weight"); HF names are those of an HF text
// checkpoint ("model.layers.3.self_attn.q_proj.weight").
//
// The map depends on the architecture: "ffn_norm" is Llama's pre-MLP norm,
// which HF calls post_attention_layernorm, but Gemma's pre_feedforward_layernorm
// (Gemma's post_attention_layernorm is GGUF's "post_attention_norm").
#pragma once

#include <optional>
#include <string>

namespace abliterate::model {

// `general.architecture` values the map knows: "gemma3", "llama" (Llama 2/3,
// SmolLM, Mistral 7B), "qwen2", "qwen3".
bool is_supported_gguf_architecture(const std::string& architecture);

// The HF name of GGUF tensor `gguf_name` in a file of `architecture`, or
// nullopt when it has none: rope_freqs.weight (llama3 rope factors), tensors of
// other families, unknown names. Pure; safe from any thread.
std::optional<std::string> hf_name_of_gguf_tensor(const std::string& architecture, const std::string& gguf_name);

}  // namespace abliterate::model
