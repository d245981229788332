// AddedVocabulary: see include/abliterate/tokenizer/added_vocabulary.hpp and
// spec/model-runtime.md §6.2 / §6.7 item 1.
#include "abliterate/tokenizer/added_vocabulary.hpp"

#include <algorithm>
#include <cctype>

namespace abliterate::tokenizer {

namespace {

bool is_ascii_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

// Whether `c` can be part of a word for single_word matching (non-ASCII bytes count as letters).
bool is_word_byte(char c) {
  const auto byte = static_cast<unsigned char>(c);
  return byte >= 0x80 || std::isalnum(byte) != 0 || c == '_';
}

}  // namespace

void AddedVocabulary::Trie::insert(std::string_view key, int32_t token_index) {
  size_t node = 0;
  for (char c : key) {
    const auto byte = static_cast<uint8_t>(c);
    auto& children = nodes[node].children;
    const auto it = std::lower_bound(children.begin(), children.end(), byte,
                                     [](const auto& child, uint8_t b) { return child.first < b; });
    if (it != children.end() && it->first == byte) {
      node = static_cast<size_t>(it->second);
      continue;
    }
    const auto child = static_cast<int32_t>(nodes.size());
    children.insert(it, {byte, child});
    nodes.emplace_back();
    node = static_cast<size_t>(child);
  }
  nodes[node].token_index = token_index;
}

int32_t AddedVocabulary::Trie::longest_match(std::string_view text, size_t pos, size_t& match_length) const {
  int32_t best = -1;
  size_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    const auto byte = static_cast<uint8_t>(text[i]);
    const auto& children = nodes[node].children;
    const auto it = std::lower_bound(children.begin(), children.end(), byte,
                                     [](const auto& child, uint8_t b) { return child.first < b; });
    if (it == children.end() || it->first != byte) break;
    node = static_cast<size_t>(it->second);
    if (nodes[node].token_index >= 0) {
      best = nodes[node].token_index;
      match_length = i + 1 - pos;
    }
  }
  return best;
}

void AddedVocabulary::add(AddedToken token) {
  if (token.content.empty()) return;  // an empty token can never match
  size_t index = tokens_.size();
  if (const auto it = index_by_content_.find(token.content); it != index_by_content_.end()) {
    index = it->second;
    index_by_id_.erase(tokens_[index].id);
    tokens_[index] = std::move(token);
  } else {
    tokens_.push_back(std::move(token));
  }
  const AddedToken& stored = tokens_[index];
  index_by_content_[stored.content] = index;
  index_by_id_[stored.id] = index;
  (stored.is_normalized ? normalized_trie_ : raw_trie_).insert(stored.content, static_cast<int32_t>(index));
}

std::vector<TextPiece> AddedVocabulary::split(std::string_view text, bool normalized_pass,
                                              SpecialTokens specials) const {
  const Trie& trie = normalized_pass ? normalized_trie_ : raw_trie_;
  std::vector<TextPiece> pieces;
  size_t text_start = 0;  // start of the text not yet emitted
  size_t pos = 0;
  while (pos < text.size()) {
    size_t length = 0;
    const int32_t index = trie.longest_match(text, pos, length);
    if (index < 0) {
      ++pos;
      continue;
    }
    const AddedToken& token = tokens_[static_cast<size_t>(index)];
    const size_t match_end = pos + length;
    if (token.is_special && specials == SpecialTokens::as_text) {
      pos = match_end;  // the span stays text; matches do not overlap
      continue;
    }
    if (token.single_word && ((pos > 0 && is_word_byte(text[pos - 1])) ||
                              (match_end < text.size() && is_word_byte(text[match_end])))) {
      pos = match_end;
      continue;
    }
    size_t start = pos;
    size_t end = match_end;
    if (token.lstrip) {
      while (start > text_start && is_ascii_space(text[start - 1])) --start;
    }
    if (token.rstrip) {
      while (end < text.size() && is_ascii_space(text[end])) ++end;
    }
    if (start > text_start) pieces.push_back(TextPiece{text.substr(text_start, start - text_start), -1});
    pieces.push_back(TextPiece{text.substr(start, end - start), token.id});
    text_start = end;
    pos = end;
  }
  if (text_start < text.size()) pieces.push_back(TextPiece{text.substr(text_start), -1});
  return pieces;
}

const AddedToken* AddedVocabulary::find(int64_t id) const {
  const auto it = index_by_id_.find(id);
  return it == index_by_id_.end() ? nullptr : &tokens_[it->second];
}

int64_t AddedVocabulary::token_id(std::string_view content) const {
  const auto it = index_by_content_.find(std::string(content));
  return it == index_by_content_.end() ? -1 : tokens_[it->second].id;
}

int64_t AddedVocabulary::id_end() const {
  int64_t end = 0;
  for (const auto& token : tokens_) end = std::max(end, token.id + 1);
  return end;
}

}  // namespace abliterate::tokenizer
