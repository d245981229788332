// tiny_tokenizer_json: see include/abliterate/model/tiny_tokenizer.hpp.
#include "abliterate/model/tiny_tokenizer.hpp"

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "abliterate/common/utf8.hpp"
#include "abliterate/model/tiny_model.hpp"

namespace abliterate::model {

namespace {

using nlohmann::ordered_json;

// Merges are learned until this many exist or no adjacent pair is left.
constexpr int kTinyMaxMerges = 512;  // the built-in text needs 478 to make every word one token

// Text the merges are learned from: plain English of the kind the tests and
// the demo prompt with, so that "the", "how", "write" ... become single tokens.
constexpr const char* kTinyTrainingText =
    "The quick brown fox jumps over the lazy dog. How do I write a short story about the sea? "
    "Please explain how the weather changes during the year and why the days are longer in summer. "
    "Write a poem about the moon and the stars. What is the capital of France? The capital of France is Paris. "
    "Can you help me with my homework? I would like to learn how to cook a simple dinner for my family. "
    "Tell me about the history of the city and the people who live there. "
    "I am sorry, but I cannot help with that request. I can not do that. As an AI model, I must decline. "
    "Sure, here is a simple recipe. First, you need to wash the vegetables and cut them into small pieces. "
    "Then you cook them in a pan with some oil and salt for about ten minutes. "
    "The model should answer the question and explain the reason for the answer. "
    "Describe a day in the life of a student who is learning to play the piano. "
    "What are the best ways to stay healthy? Eat good food, sleep well, and walk every day. "
    "How does a computer work? A computer reads instructions and follows them one after another. "
    "Give me three ideas for a party with my friends this weekend. "
    "Explain the difference between a river and a lake, and tell me which one is larger. "
    "Thank you for your help. You are welcome, and I hope that this answer is useful to you. "
    "Write a letter to a friend about a trip to the mountains in the winter. "
    "The children played in the garden while their parents talked about the news of the day. "
    "This is a test of the tokenizer, and the words in this text should become tokens.";

std::vector<std::string> split_characters(const std::string& word) {
  const std::vector<std::string_view> chars = utf8_split(word);
  return {chars.begin(), chars.end()};
}

// Classic BPE training over "▁word" units: merge the most frequent adjacent
// pair (ties: the lexicographically smallest pair) until kTinyMaxMerges or
// until every word is a single symbol.
std::vector<std::pair<std::string, std::string>> learn_merges() {
  std::map<std::string, int64_t> word_counts;
  std::string word;
  const std::string text = kTinyTrainingText;
  for (size_t pos = 0; pos <= text.size(); ++pos) {
    if (pos == text.size() || text[pos] == ' ') {
      if (!word.empty()) word_counts[std::string(kSpmSpace) + word] += 1;
      word.clear();
    } else {
      word += text[pos];
    }
  }
  std::vector<std::pair<std::vector<std::string>, int64_t>> words;
  for (const auto& [text_word, count] : word_counts) words.emplace_back(split_characters(text_word), count);

  std::vector<std::pair<std::string, std::string>> merges;
  while (static_cast<int>(merges.size()) < kTinyMaxMerges) {
    std::map<std::pair<std::string, std::string>, int64_t> pair_counts;
    for (const auto& [symbols, count] : words) {
      for (size_t i = 0; i + 1 < symbols.size(); ++i) pair_counts[{symbols[i], symbols[i + 1]}] += count;
    }
    // Once frequent pairs run out, pairs seen once still merge, so every word of the text ends up one token.
    const std::pair<std::string, std::string>* best = nullptr;
    int64_t best_count = 0;
    for (const auto& [pair, count] : pair_counts) {
      if (count > best_count) {
        best = &pair;
        best_count = count;
      }
    }
    if (best == nullptr) break;
    const auto chosen = *best;
    merges.push_back(chosen);
    for (auto& [symbols, count] : words) {
      std::vector<std::string> merged;
      for (size_t i = 0; i < symbols.size(); ++i) {
        if (i + 1 < symbols.size() && symbols[i] == chosen.first && symbols[i + 1] == chosen.second) {
          merged.push_back(chosen.first + chosen.second);
          ++i;
        } else {
          merged.push_back(symbols[i]);
        }
      }
      symbols = std::move(merged);
    }
  }
  return merges;
}

ordered_json added_token(int64_t id, const std::string& content, bool is_special) {
  return ordered_json{{"id", id},          {"content", content}, {"single_word", false}, {"lstrip", false},
                      {"rstrip", false},   {"normalized", false}, {"special", is_special}};
}

}  // namespace

ordered_json tiny_tokenizer_json() {
  const std::vector<std::pair<std::string, bool>> added = {
      {"<pad>", true}, {"<eos>", true}, {"<bos>", true}, {"<unk>", true},
      {"<start_of_turn>", true}, {"<end_of_turn>", true}, {"\n", false}};

  ordered_json vocab = ordered_json::object();
  std::map<std::string, int64_t> ids;
  const auto add_piece = [&](const std::string& piece) {
    if (ids.count(piece)) return;
    const auto id = static_cast<int64_t>(ids.size());
    ids[piece] = id;
    vocab[piece] = id;
  };
  ordered_json added_tokens = ordered_json::array();
  for (const auto& [content, is_special] : added) {
    added_tokens.push_back(added_token(static_cast<int64_t>(ids.size()), content, is_special));
    add_piece(content);  // SentencePiece keeps control pieces in its vocab too
  }
  for (int byte = 0; byte < 256; ++byte) add_piece(fmt::format("<0x{:02X}>", byte));
  add_piece(std::string(kSpmSpace));
  for (char c = 0x21; c < 0x7F; ++c) add_piece(std::string(1, c));

  ordered_json merges = ordered_json::array();
  for (const auto& [left, right] : learn_merges()) {
    add_piece(left + right);
    merges.push_back(ordered_json::array({left, right}));
  }

  const ordered_json bos_template = ordered_json::array(
      {ordered_json{{"SpecialToken", {{"id", "<bos>"}, {"type_id", 0}}}},
       ordered_json{{"Sequence", {{"id", "A"}, {"type_id", 0}}}}});
  return ordered_json{
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added_tokens},
      {"normalizer", {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", std::string(kSpmSpace)}}},
      {"pre_tokenizer",
       {{"type", "Split"}, {"pattern", {{"String", " "}}}, {"behavior", "MergedWithPrevious"}, {"invert", false}}},
      // Present for fidelity with Gemma's file; abliterate never applies it (prompts carry <bos>).
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single", bos_template},
        {"pair", bos_template},
        {"special_tokens", {{"<bos>", {{"id", "<bos>"}, {"ids", ordered_json::array({kTinyBosId})}, {"tokens", ordered_json::array({"<bos>"})}}}}}}},
      {"decoder",
       {{"type", "Sequence"},
        {"decoders",
         ordered_json::array({ordered_json{{"type", "Replace"},
                                           {"pattern", {{"String", std::string(kSpmSpace)}}},
                                           {"content", " "}},
                              ordered_json{{"type", "ByteFallback"}}, ordered_json{{"type", "Fuse"}}})}}},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", "<unk>"},
        {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr},
        {"fuse_unk", true},
        {"byte_fallback", true},
        {"ignore_merges", false},
        {"vocab", vocab},
        {"merges", merges}}},
  };
}

}  // namespace abliterate::model
