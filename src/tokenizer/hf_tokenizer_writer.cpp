// hf_tokenizer_json: see include/abliterate/tokenizer/hf_tokenizer_writer.hpp.
#include "abliterate/tokenizer/hf_tokenizer_writer.hpp"

#include <fmt/format.h>

#include <string>

#include "abliterate/common/error.hpp"
#include "abliterate/tokenizer/regex_splitter.hpp"
#include "abliterate/tokenizer/spm_model.hpp"

namespace abliterate::tokenizer {
namespace {

// Plain (key-sorted) JSON: a vocabulary of 10^5 tokens would take quadratic time in an json object.
using json = nlohmann::json;

json byte_level(bool use_regex) {
  return {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", use_regex}};
}

json isolated_split(std::string_view regex) {
  return {{"type", "Split"}, {"pattern", {{"Regex", std::string(regex)}}}, {"behavior", "Isolated"}, {"invert", false}};
}

// The pre-tokenizer of each tokenizer.ggml.pre, as the family's own
// tokenizer.json has it (the same splits as tokenizer.cpp's llama.cpp regexes).
struct PreTokenizerForm {
  json pre_tokenizer;
  bool ignore_merges = false;
};

PreTokenizerForm pre_tokenizer_form(const std::string& pre) {
  if (pre == "llama-bpe" || pre == "llama3") {
    return {{{"type", "Sequence"}, {"pretokenizers", {isolated_split(kLlama3SplitRegex), byte_level(false)}}}, true};
  }
  if (pre == "qwen2") {
    return {{{"type", "Sequence"}, {"pretokenizers", {isolated_split(kQwen2SplitRegex), byte_level(false)}}}, false};
  }
  if (pre == "smollm" || pre == "starcoder") {
    return {{{"type", "Sequence"},
             {"pretokenizers", {{{"type", "Digits"}, {"individual_digits", true}}, byte_level(true)}}},
            false};
  }
  if (pre == "gpt-2") return {byte_level(true), false};
  throw FormatError(fmt::format("GGUF tokenizer.ggml.pre: \"{}\" has no tokenizer.json form here (supported for "
                                "export: llama-bpe, llama3, qwen2, smollm, starcoder, gpt-2)",
                                pre));
}

constexpr int32_t kControl = static_cast<int32_t>(SpmTokenType::control);
constexpr int32_t kUserDefined = static_cast<int32_t>(SpmTokenType::user_defined);

std::string token_text_or_empty(const GgufVocab& vocab, int64_t id) {
  return id >= 0 && id < static_cast<int64_t>(vocab.tokens.size()) ? vocab.tokens[static_cast<size_t>(id)]
                                                                   : std::string();
}

json token_or_null(const GgufVocab& vocab, int64_t id) {
  const std::string text = token_text_or_empty(vocab, id);
  return text.empty() ? json(nullptr) : json(text);
}

// TemplateProcessing that puts BOS first, as tokenizer.ggml.add_bos_token asks.
json bos_post_processor(const std::string& bos, int64_t bos_id) {
  const json bos_piece = {{"SpecialToken", {{"id", bos}, {"type_id", 0}}}};
  return {{"type", "TemplateProcessing"},
          {"single", {bos_piece, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
          {"pair",
           {bos_piece, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}, bos_piece,
            {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}}},
          {"special_tokens", {{bos, {{"id", bos}, {"ids", {bos_id}}, {"tokens", {bos}}}}}}};
}

}  // namespace

json hf_tokenizer_json(const GgufVocab& vocab) {
  ABL_CHECK(vocab.model == "gpt2", FormatError,
            "GGUF tokenizer.ggml.model: \"{}\" (SentencePiece) cannot be written as tokenizer.json yet; only byte-level "
            "BPE (\"gpt2\") vocabularies can",
            vocab.model);
  const PreTokenizerForm form = pre_tokenizer_form(vocab.pre);
  json added_tokens = json::array();
  json token_ids = json::object();
  for (size_t id = 0; id < vocab.tokens.size(); ++id) {
    token_ids[vocab.tokens[id]] = id;
    const int32_t type = vocab.token_types.empty() ? 1 : vocab.token_types[id];
    if ((type != kControl && type != kUserDefined) || vocab.tokens[id].empty()) continue;
    // As Tokenizer::from_gguf_vocab: matched on the raw text; control tokens are special.
    added_tokens.push_back({{"id", id},
                            {"content", vocab.tokens[id]},
                            {"single_word", false},
                            {"lstrip", false},
                            {"rstrip", false},
                            {"normalized", false},
                            {"special", type == kControl}});
  }
  const std::string bos = token_text_or_empty(vocab, vocab.bos);
  return {{"version", "1.0"},
          {"truncation", nullptr},
          {"padding", nullptr},
          {"added_tokens", added_tokens},
          {"normalizer", nullptr},
          {"pre_tokenizer", form.pre_tokenizer},
          {"post_processor", vocab.add_bos && !bos.empty() ? bos_post_processor(bos, vocab.bos) : json(nullptr)},
          {"decoder", byte_level(true)},
          {"model",
           {{"type", "BPE"},
            {"dropout", nullptr},
            {"unk_token", nullptr},
            {"continuing_subword_prefix", nullptr},
            {"end_of_word_suffix", nullptr},
            {"fuse_unk", false},
            {"byte_fallback", false},
            {"ignore_merges", form.ignore_merges},
            {"vocab", token_ids},
            {"merges", vocab.merges}}}};
}

json hf_tokenizer_config_json(const GgufVocab& vocab, int64_t model_max_length) {
  json json{{"tokenizer_class", "PreTrainedTokenizerFast"},
                    {"bos_token", token_or_null(vocab, vocab.bos)},
                    {"eos_token", token_or_null(vocab, vocab.eos)},
                    {"unk_token", token_or_null(vocab, vocab.unk)},
                    {"pad_token", token_or_null(vocab, vocab.pad)},
                    {"add_bos_token", vocab.add_bos},
                    {"add_eos_token", false},
                    {"clean_up_tokenization_spaces", false}};
  if (model_max_length > 0) json["model_max_length"] = model_max_length;
  return json;
}

}  // namespace abliterate::tokenizer
