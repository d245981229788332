// Module model: the runtime: config, checkpoints (HF, GGUF, LoRA), decoder, generation, tiny models.
// Must not know: the job, the method or anything of a study.
//
// A loaded decoder-only language model: config, tokenizer, chat template and
// weights on one device, with batched prefill and greedy generation.
// One Model per worker; not safe for concurrent calls.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "abliterate/chat/chat_template.hpp"
#include "abliterate/model/model_config.hpp"
#include "abliterate/model/projection_hook.hpp"
#include "abliterate/tokenizer/tokenizer.hpp"

namespace abliterate::model {

struct LoadOptions {
  torch::Dtype dtype = torch::kFloat32;
  torch::Device device = torch::kCPU;
  // A PEFT LoRA adapter folder merged into the weights at load (lora_adapter.hpp); empty: none.
  std::filesystem::path adapter;
};

// Token ids of several prompts, left padded so that position -1 is every
// row's last prompt token (method spec §3.2).
struct PromptBatch {
  torch::Tensor input_ids;       // int64 [B, T]
  torch::Tensor attention_mask;  // int64 [B, T], 1 = real token
};

// One prompt of a queue that generate_queued works through.
struct QueuedPrompt {
  std::vector<int64_t> ids;  // the rendered prompt's token ids (Model::encode); not empty
  int64_t hook_slot = 0;     // the RowHooks slot its row is ablated with
};

struct PrefillOutput {
  torch::Tensor logits;  // float32 [B, V], at the last prompt position
  torch::Tensor hidden;  // float32 [B, L+1, d] at the last position (HF convention, method spec §4.1); undefined unless asked
};

// Decides, after each generated token, whether a row may stop early. Called
// with the row index and the ids generated so far for that row.
using RowStopFn = std::function<bool(int64_t row_idx, const std::vector<int64_t>& new_ids)>;

class Model {
 public:
  // Loads an HF folder (config.json, model.safetensors, tokenizer.json,
  // chat template) or a .gguf file (config, tokenizer and chat template from
  // its metadata, spec §5.5-§5.7). Throws FormatError / IoError naming the
  // file and tensor. With options.adapter, the adapter is merged into the
  // weights it targets; a bad adapter throws naming its file and key.
  static std::unique_ptr<Model> load(const std::filesystem::path& path, const LoadOptions& options);

  virtual ~Model() = default;

  virtual const ModelConfig& config() const = 0;
  virtual const tokenizer::Tokenizer& tokenizer() const = 0;
  virtual const chat::ChatTemplate& chat_template() const = 0;
  // False when the model carries no chat template (a base model's GGUF) and a
  // built-in template of its family stands in (spec §2); true otherwise.
  virtual bool is_chat_template_from_model() const { return true; }
  virtual torch::Device device() const = 0;

  // The (system, user) chat rendered with the generation prompt.
  std::string format_chat(const std::string& system_prompt, const std::string& user_prompt) const;

  // Tokenizes rendered prompts (specials parsed, no extra BOS) into a left-padded batch on device().
  virtual PromptBatch tokenize(const std::vector<std::string>& rendered_prompts) const = 0;

  // One forward pass over the prompts. `hook` may be null (the base model).
  // The returned tensors are ordinary (not inference-mode) tensors.
  virtual PrefillOutput prefill(const PromptBatch& batch, const ProjectionHook* hook, bool capture_hidden) const = 0;

  // Greedy generation of at most max_new_tokens per row; a row stops at a
  // stop token (not included in its output) or when `stop_early` says so; the
  // batch stops when every row has. Returns the new ids of each row.
  // Stop tokens: eos_token_id of config.json and generation_config.json, plus
  // any end-of-turn token the vocabulary has (<end_of_turn>, <|im_end|>, ...; spec §2).
  // Ids past the tokenizer's vocabulary (embedding padding rows) are never chosen.
  virtual std::vector<std::vector<int64_t>> generate(const PromptBatch& batch, int64_t max_new_tokens,
                                                     const ProjectionHook* hook,
                                                     const RowStopFn& stop_early = nullptr) const = 0;

  // The ids of one rendered prompt, as tokenize() encodes each row.
  std::vector<int64_t> encode(const std::string& rendered_prompt) const;

  // Whether generate_queued serves prompts of up to `longest_prompt` tokens
  // (fits_continuous_batching); false for a model without it.
  virtual bool can_generate_queued(int64_t /*longest_prompt*/, int64_t /*max_new_tokens*/) const { return false; }

  // Greedy generation of every prompt through at most `max_rows` rows per
  // forward pass, the batch refilled as rows stop (continuous_generation.hpp).
  // Rows stop as in generate(); stop_early is called with the prompt's index.
  // Row r is ablated with hooks' slot of its prompt. Requires can_generate_queued.
  virtual std::vector<std::vector<int64_t>> generate_queued(const std::vector<QueuedPrompt>& prompts,
                                                            int64_t max_rows, int64_t max_new_tokens,
                                                            RowHooks& hooks, const RowStopFn& stop_early) const;

  // The logits after each prompt, float32 [N, V] on device(), in passes of at
  // most `max_rows` rows that share the prompts' common prefix (computed once
  // per slot). Requires can_generate_queued.
  virtual torch::Tensor prefill_queued(const std::vector<QueuedPrompt>& prompts, int64_t max_rows,
                                       RowHooks& hooks) const;

  // The weight of one projection, float32 [d, in] on device() (for row norms).
  virtual torch::Tensor projection_weight(Projection which, int64_t layer_idx) const = 0;
};

}  // namespace abliterate::model
