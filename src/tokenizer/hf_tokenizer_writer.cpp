// hf_tokenizer_json: see include/abliterate/tokenizer/hf_tokenizer_writer.hpp.
#include "abliterate/tokenizer/hf_tokenizer_writer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "abliterate/common/error.hpp"
#include "abliterate/common/utf8.hpp"
#include "abliterate/tokenizer/regex_splitter.hpp"
#include "abliterate/tokenizer/spm_model.hpp"

namespace abliterate::tokenizer {
namespace {

// Plain (key-sorted) JSON: a vocabulary of 10^5 tokens would take quadratic time in an ordered_json object.
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

// The added tokens of a GGUF vocabulary: as Tokenizer::from_gguf_vocab, its
// control and user-defined tokens, matched on the raw text; control ones special.
json added_tokens_of(const GgufVocab& vocab) {
  json added_tokens = json::array();
  for (size_t id = 0; id < vocab.tokens.size(); ++id) {
    const int32_t type = vocab.token_types.empty() ? 1 : vocab.token_types[id];
    if ((type != kControl && type != kUserDefined) || vocab.tokens[id].empty()) continue;
    added_tokens.push_back({{"id", id},
                            {"content", vocab.tokens[id]},
                            {"single_word", false},
                            {"lstrip", false},
                            {"rstrip", false},
                            {"normalized", false},
                            {"special", type == kControl}});
  }
  return added_tokens;
}

json bpe_model(const json& token_ids, const json& merges, bool ignore_merges, bool byte_fallback, const json& unk) {
  return {{"type", "BPE"},
          {"dropout", nullptr},
          {"unk_token", unk},
          {"continuing_subword_prefix", nullptr},
          {"end_of_word_suffix", nullptr},
          {"fuse_unk", byte_fallback},
          {"byte_fallback", byte_fallback},
          {"ignore_merges", ignore_merges},
          {"vocab", token_ids},
          {"merges", merges}};
}

// The tokenizer.json document around a vocabulary's pipeline steps: its
// added tokens, BOS added when tokenizer.ggml.add_bos_token says so, and the
// vocabulary by id.
json tokenizer_document(const GgufVocab& vocab, json normalizer, json pre_tokenizer, json decoder, json merges,
                        bool ignore_merges, bool byte_fallback, json unk) {
  json token_ids = json::object();
  for (size_t id = 0; id < vocab.tokens.size(); ++id) token_ids[vocab.tokens[id]] = id;
  const std::string bos = token_text_or_empty(vocab, vocab.bos);
  return {{"version", "1.0"},
          {"truncation", nullptr},
          {"padding", nullptr},
          {"added_tokens", added_tokens_of(vocab)},
          {"normalizer", std::move(normalizer)},
          {"pre_tokenizer", std::move(pre_tokenizer)},
          {"post_processor", vocab.add_bos && !bos.empty() ? bos_post_processor(bos, vocab.bos) : json(nullptr)},
          {"decoder", std::move(decoder)},
          {"model", bpe_model(token_ids, merges, ignore_merges, byte_fallback, unk)}};
}

// A SentencePiece vocabulary's merges, as transformers' GGUF converter
// derives them from the scores: every split of a token into two tokens, the
// splits of one token ordered by their pieces' scores, then all of them by
// the merged token's score, highest first (stable). BPE over these ranks
// merges what llama.cpp's SPM tokenizer merges: the pair whose merged token
// scores highest.
json spm_merges(const GgufVocab& vocab) {
  std::unordered_map<std::string_view, size_t> id_of;
  for (size_t id = 0; id < vocab.tokens.size(); ++id) id_of.emplace(vocab.tokens[id], id);
  struct Merge {
    size_t left, right;
    float score;
  };
  std::vector<Merge> merges;
  for (size_t id = 0; id < vocab.tokens.size(); ++id) {
    const std::string& token = vocab.tokens[id];
    std::vector<Merge> local;
    size_t split = 0;
    for (std::string_view piece : utf8_split(token)) {
      split += piece.size();
      if (split == token.size()) break;
      const auto left = id_of.find(std::string_view(token).substr(0, split));
      const auto right = id_of.find(std::string_view(token).substr(split));
      if (left != id_of.end() && right != id_of.end()) local.push_back({left->second, right->second, vocab.scores[id]});
    }
    std::stable_sort(local.begin(), local.end(), [&](const Merge& a, const Merge& b) {
      return std::pair(vocab.scores[a.left], vocab.scores[a.right]) > std::pair(vocab.scores[b.left], vocab.scores[b.right]);
    });
    merges.insert(merges.end(), local.begin(), local.end());
  }
  std::stable_sort(merges.begin(), merges.end(), [](const Merge& a, const Merge& b) { return a.score > b.score; });
  json out = json::array();
  for (const Merge& merge : merges) out.push_back({vocab.tokens[merge.left], vocab.tokens[merge.right]});
  return out;
}

json spm_tokenizer_json(const GgufVocab& vocab) {
  ABL_CHECK(vocab.scores.size() == vocab.tokens.size(), FormatError,
            "GGUF tokenizer.ggml.scores: expected {} entries (one per token), got {}", vocab.tokens.size(),
            vocab.scores.size());
  // llama.cpp puts the space prefix before the first fragment only, which no tokenizer.json normalizer says.
  ABL_CHECK(!vocab.add_space_prefix, FormatError,
            "GGUF tokenizer.ggml.add_space_prefix: a SentencePiece vocabulary with a space prefix cannot be written as "
            "tokenizer.json yet");
  const json replace_space = {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", std::string(kSpmSpace)}};
  const json restore_space = {{"type", "Replace"}, {"pattern", {{"String", std::string(kSpmSpace)}}}, {"content", " "}};
  const json decoder = {{"type", "Sequence"}, {"decoders", {restore_space, {{"type", "ByteFallback"}}, {{"type", "Fuse"}}}}};
  return tokenizer_document(vocab, replace_space, nullptr, decoder, spm_merges(vocab), /*ignore_merges=*/false,
                            /*byte_fallback=*/true, token_or_null(vocab, vocab.unk));
}

}  // namespace

json hf_tokenizer_json(const GgufVocab& vocab) {
  if (vocab.model == "llama") return spm_tokenizer_json(vocab);
  ABL_CHECK(vocab.model == "gpt2", FormatError,
            "GGUF tokenizer.ggml.model: \"{}\" cannot be written as tokenizer.json (expected \"gpt2\" or \"llama\")",
            vocab.model);
  const PreTokenizerForm form = pre_tokenizer_form(vocab.pre);
  return tokenizer_document(vocab, nullptr, form.pre_tokenizer, byte_level(true), vocab.merges, form.ignore_merges,
                            /*byte_fallback=*/false, nullptr);
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
