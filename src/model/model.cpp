// Model::load and the one Model implementation of the walking skeleton: a
// Gemma 3 HF folder run by Decoder. See include/abliterate/model/model.hpp.
#include "abliterate/model/model.hpp"

#include <algorithm>

#include "abliterate/chat/gguf_chat_template.hpp"
#include "abliterate/common/error.hpp"
#include "abliterate/formats/hf_folder.hpp"
#include "abliterate/model/continuous_generation.hpp"
#include "abliterate/model/decoder.hpp"
#include "abliterate/model/generation.hpp"
#include "abliterate/model/gguf_checkpoint.hpp"
#include "abliterate/model/gguf_model_config.hpp"
#include "abliterate/model/hf_checkpoint.hpp"
#include "abliterate/model/lora_adapter.hpp"
#include "abliterate/tokenizer/gguf_vocab.hpp"

namespace abliterate::model {

const char* to_string(Projection p) {
  switch (p) {
    case Projection::attn_o_proj: return "attn.o_proj";
    case Projection::mlp_down_proj: return "mlp.down_proj";
  }
  return "?";
}

std::string Model::format_chat(const std::string& system_prompt, const std::string& user_prompt) const {
  return chat_template().render({{"system", system_prompt}, {"user", user_prompt}}, /*add_generation_prompt=*/true);
}

std::vector<int64_t> Model::encode(const std::string& rendered_prompt) const {
  return tokenizer().encode(rendered_prompt, tokenizer::SpecialTokens::parse);
}

std::vector<std::vector<int64_t>> Model::generate_queued(const std::vector<QueuedPrompt>& /*prompts*/,
                                                         int64_t /*max_rows*/, int64_t /*max_new_tokens*/,
                                                         RowHooks& /*hooks*/, const RowStopFn& /*stop_early*/) const {
  throw InputError("this model does not generate from a queue (can_generate_queued is false)");
}

torch::Tensor Model::prefill_queued(const std::vector<QueuedPrompt>& /*prompts*/, int64_t /*max_rows*/,
                                    RowHooks& /*hooks*/) const {
  throw InputError("this model does not prefill from a queue (can_generate_queued is false)");
}

namespace {

// End-of-turn texts that stop generation even when the config forgets them
// (spec §2 "Stop tokens", llama.cpp's list).
constexpr const char* kEndOfTurnTokens[] = {"<end_of_turn>", "<|eot_id|>",      "<|im_end|>", "<|end|>",
                                            "<|endoftext|>", "<|end_of_text|>", "<EOT>",      "<|eom_id|>"};

class DecoderModel final : public Model {
 public:
  DecoderModel(ModelConfig config, tokenizer::Tokenizer tokenizer, chat::ChatTemplate chat_template, Decoder decoder,
               std::vector<int64_t> stop_token_ids, bool is_chat_template_from_model = true)
      : config_(std::move(config)),
        tokenizer_(std::move(tokenizer)),
        chat_template_(std::move(chat_template)),
        decoder_(std::move(decoder)),
        stop_token_ids_(std::move(stop_token_ids)),
        is_chat_template_from_model_(is_chat_template_from_model) {
    pad_token_id_ = config_.pad_token_id >= 0 ? config_.pad_token_id
                    : !stop_token_ids_.empty() ? stop_token_ids_.front()  // Heretic: pad = eos when there is none
                                               : 0;
  }

  const ModelConfig& config() const override { return config_; }
  const tokenizer::Tokenizer& tokenizer() const override { return tokenizer_; }
  const chat::ChatTemplate& chat_template() const override { return chat_template_; }
  bool is_chat_template_from_model() const override { return is_chat_template_from_model_; }
  torch::Device device() const override { return decoder_.device(); }

  PromptBatch tokenize(const std::vector<std::string>& rendered_prompts) const override {
    std::vector<std::vector<int64_t>> rows;
    rows.reserve(rendered_prompts.size());
    int64_t n_positions = 0;
    for (size_t prompt_idx = 0; prompt_idx < rendered_prompts.size(); ++prompt_idx) {
      rows.push_back(encode(rendered_prompts[prompt_idx]));
      ABL_CHECK(!rows.back().empty(), InputError, "prompt {} encodes to no tokens", prompt_idx);
      n_positions = std::max(n_positions, static_cast<int64_t>(rows.back().size()));
    }
    const auto n_rows = static_cast<int64_t>(rows.size());
    torch::Tensor ids = torch::full({n_rows, n_positions}, pad_token_id_, torch::kInt64);  // int64 [B, T]
    torch::Tensor mask = torch::zeros({n_rows, n_positions}, torch::kInt64);              // int64 [B, T]
    for (int64_t row = 0; row < n_rows; ++row) {
      const auto& row_ids = rows[static_cast<size_t>(row)];
      const auto n_ids = static_cast<int64_t>(row_ids.size());
      // Left padding: the last prompt token sits at position -1 of every row (method spec §3.2).
      ids[row].narrow(0, n_positions - n_ids, n_ids).copy_(torch::tensor(row_ids, torch::kInt64));
      mask[row].narrow(0, n_positions - n_ids, n_ids).fill_(1);
    }
    return PromptBatch{ids.to(device()), mask.to(device())};
  }

  PrefillOutput prefill(const PromptBatch& batch, const ProjectionHook* hook, bool capture_hidden) const override {
    check_batch(batch);
    DecoderOutput out;
    {
      c10::InferenceMode guard;
      const DecoderInput input{batch.input_ids.to(device()), positions_from_mask(batch.attention_mask).to(device()),
                               batch.attention_mask.to(device()).to(torch::kBool)};
      out = decoder_.forward(input, /*cache=*/nullptr, hook,
                             capture_hidden ? HiddenCapture::last_position : HiddenCapture::none);
    }
    // Copies made outside InferenceMode are ordinary tensors: callers may update them in place.
    return PrefillOutput{out.logits.clone(), out.hidden.defined() ? out.hidden.clone() : torch::Tensor()};
  }

  std::vector<std::vector<int64_t>> generate(const PromptBatch& batch, int64_t max_new_tokens,
                                             const ProjectionHook* hook, const RowStopFn& stop_early) const override {
    c10::InferenceMode guard;
    ABL_CHECK(max_new_tokens >= 0, InputError, "max_new_tokens must be >= 0, got {}", max_new_tokens);
    check_batch(batch);
    return greedy_generate(decoder_, batch, greedy_options(max_new_tokens), hook, stop_early);
  }

  bool can_generate_queued(int64_t longest_prompt, int64_t max_new_tokens) const override {
    return fits_continuous_batching(config_, longest_prompt, max_new_tokens);
  }

  std::vector<std::vector<int64_t>> generate_queued(const std::vector<QueuedPrompt>& prompts, int64_t max_rows,
                                                    int64_t max_new_tokens, RowHooks& hooks,
                                                    const RowStopFn& stop_early) const override {
    c10::InferenceMode guard;
    ABL_CHECK(max_new_tokens >= 0, InputError, "max_new_tokens must be >= 0, got {}", max_new_tokens);
    return generate_continuously(decoder_, prompts, max_rows, greedy_options(max_new_tokens), hooks, stop_early);
  }

  torch::Tensor prefill_queued(const std::vector<QueuedPrompt>& prompts, int64_t max_rows,
                               RowHooks& hooks) const override {
    torch::Tensor logits;
    {
      c10::InferenceMode guard;
      logits = model::prefill_queued(decoder_, prompts, max_rows, hooks);
    }
    return logits.clone();  // an ordinary tensor, as prefill() returns
  }

  torch::Tensor projection_weight(Projection which, int64_t layer_idx) const override {
    ABL_CHECK(layer_idx >= 0 && layer_idx < config_.n_layers, InputError, "layer index {} is outside [0, {})",
              layer_idx, config_.n_layers);
    const DecoderLayerWeights& layer = decoder_.weights().layers[static_cast<size_t>(layer_idx)];
    const torch::Tensor& weight = which == Projection::attn_o_proj ? layer.o_proj : layer.down_proj;
    return weight.to(torch::kFloat32, /*non_blocking=*/false, /*copy=*/true);  // float32 [d, in]
  }

 private:
  GreedyOptions greedy_options(int64_t max_new_tokens) const {
    GreedyOptions options;
    options.max_new_tokens = max_new_tokens;
    options.stop_token_ids = stop_token_ids_;
    options.pad_token_id = pad_token_id_;
    options.n_sampleable_tokens = tokenizer_.vocab_size();
    return options;
  }

  // A batch must be [B, T] ids and mask, left padded (every row's last position is real).
  void check_batch(const PromptBatch& batch) const {
    ABL_CHECK(batch.input_ids.defined() && batch.attention_mask.defined() && batch.input_ids.dim() == 2 &&
                  batch.input_ids.sizes() == batch.attention_mask.sizes() && batch.input_ids.size(1) > 0,
              InputError, "prompt batch: expected input_ids and attention_mask of the same shape [B, T], T > 0");
    ABL_CHECK(batch.attention_mask.select(1, -1).ne(0).all().item<bool>(), InputError,
              "prompt batch: every row's last position must be a real token (batches are left padded)");
  }

  ModelConfig config_;
  tokenizer::Tokenizer tokenizer_;
  chat::ChatTemplate chat_template_;
  Decoder decoder_;
  std::vector<int64_t> stop_token_ids_;
  bool is_chat_template_from_model_ = true;
  int64_t pad_token_id_ = 0;
};

std::vector<int64_t> stop_token_ids(const ModelConfig& config, const tokenizer::Tokenizer& tokenizer) {
  std::vector<int64_t> ids = config.eos_token_ids;
  for (const char* text : kEndOfTurnTokens) {
    const int64_t id = tokenizer.token_id(text);
    if (id >= 0 && std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  }
  return ids;
}

// The decoder weights from `checkpoint`, with options.adapter merged in when one is given.
DecoderWeights load_weights(TensorSource& checkpoint, const ModelConfig& config, const LoadOptions& options) {
  const auto tensor_options = torch::TensorOptions().dtype(options.dtype).device(options.device);
  if (options.adapter.empty()) return load_decoder_weights(checkpoint, config, tensor_options);
  const LoraAdapter adapter = LoraAdapter::open(options.adapter);
  AdaptedTensorSource adapted(checkpoint, adapter);
  return load_decoder_weights(adapted, config, tensor_options);
}

void check_load_options(const std::filesystem::path& path, const LoadOptions& options) {
  ABL_CHECK(options.dtype == torch::kFloat32 || options.dtype == torch::kBFloat16 || options.dtype == torch::kFloat16,
            InputError, "{}: dtype {} is not supported (expected float32, bfloat16 or float16)", path.string(),
            c10::toString(options.dtype));
  ABL_CHECK(!options.device.is_cuda() || torch::cuda::is_available(), InputError,
            "{}: device {} requested but CUDA is not available", path.string(), options.device.str());
}

// A .gguf file: config, tokenizer and chat template from its metadata, weights
// through GgufCheckpoint (spec §5.5-§5.7).
std::unique_ptr<Model> load_gguf_model(const std::filesystem::path& path, const LoadOptions& options) {
  GgufCheckpoint checkpoint = GgufCheckpoint::open(path);
  const formats::GgufReader& reader = checkpoint.reader();
  ModelConfig config = model_config_from_gguf(reader);
  const tokenizer::GgufVocab vocab = tokenizer::read_gguf_vocab(reader);
  tokenizer::Tokenizer tokenizer =
      with_context(path.string(), [&] { return tokenizer::Tokenizer::from_gguf_vocab(vocab); });
  ABL_CHECK(tokenizer.vocab_size() <= config.vocab_size, FormatError,
            "{}: the tokenizer has {} tokens but tensor 'token_embd.weight' has {} rows", path.string(),
            tokenizer.vocab_size(), config.vocab_size);
  chat::GgufChatTemplate chat = chat::read_gguf_chat_template(reader, vocab);
  std::vector<int64_t> stop_ids = stop_token_ids(config, tokenizer);

  Decoder decoder(config, load_weights(checkpoint, config, options));
  return std::make_unique<DecoderModel>(std::move(config), std::move(tokenizer), std::move(chat.chat_template),
                                        std::move(decoder), std::move(stop_ids), chat.is_from_file);
}

}  // namespace

std::unique_ptr<Model> Model::load(const std::filesystem::path& path, const LoadOptions& options) {
  std::error_code ec;
  ABL_CHECK(std::filesystem::exists(path, ec), IoError, "{}: no such file or folder", path.string());
  check_load_options(path, options);
  if (path.extension() == ".gguf") return load_gguf_model(path, options);
  ABL_CHECK(std::filesystem::is_directory(path, ec), InputError,
            "{}: expected a model folder (config.json, model.safetensors, tokenizer.json, chat template) or a .gguf "
            "file", path.string());

  ModelConfig config = ModelConfig::from_hf_folder(path);
  tokenizer::Tokenizer tokenizer = tokenizer::Tokenizer::from_tokenizer_json(path / formats::kHfTokenizerFile);
  ABL_CHECK(tokenizer.vocab_size() <= config.vocab_size, FormatError,
            "{}: the tokenizer has {} tokens but config.json's vocab_size is {}",
            (path / formats::kHfTokenizerFile).string(), tokenizer.vocab_size(), config.vocab_size);
  chat::ChatTemplate chat_template = chat::ChatTemplate::from_model_folder(path);
  std::vector<int64_t> stop_ids = stop_token_ids(config, tokenizer);

  HfCheckpoint checkpoint = HfCheckpoint::open(path);
  Decoder decoder(config, load_weights(checkpoint, config, options));
  return std::make_unique<DecoderModel>(std::move(config), std::move(tokenizer), std::move(chat_template),
                                        std::move(decoder), std::move(stop_ids));
}

}  // namespace abliterate::model
