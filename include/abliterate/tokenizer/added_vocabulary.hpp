// The added tokens of an HF tokenizer.json (spec/model-runtime.md §6.2 step 1):
// special and user-defined tokens that are cut out of the text before
// normalization and BPE, matched leftmost-longest. Immutable after
// construction; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "abliterate/tokenizer/tokenizer.hpp"

namespace abliterate::tokenizer {

struct AddedToken {
  int64_t id = -1;
  std::string content;
  bool is_special = false;   // control token: hidden by decode(skip_special), not matched with SpecialTokens::as_text
  bool is_normalized = false;  // matched after normalization instead of on the raw text
  bool lstrip = false;       // the match swallows whitespace on its left
  bool rstrip = false;       // ... and on its right
  bool single_word = false;  // only matched when not inside a word
};

// A run of the text: an added token (id >= 0) or text still to tokenize (id -1).
struct TextPiece {
  std::string_view text;
  int64_t id = -1;
};

class AddedVocabulary {
 public:
  // Registers a token. Later tokens with the same content replace earlier ones.
  void add(AddedToken token);

  // Splits `text` on the tokens of one pass: the non-normalized tokens (on raw
  // text) or the normalized ones (on normalized text). Matching is
  // leftmost-longest over all tokens of the pass and non-overlapping; a special
  // token matched while `specials` is as_text stays part of the text (as the
  // tokenizers library's split_special_tokens does). Pieces view `text`.
  std::vector<TextPiece> split(std::string_view text, bool normalized_pass, SpecialTokens specials) const;

  // nullptr when `id` is not an added token.
  const AddedToken* find(int64_t id) const;
  // -1 when no added token has this content.
  int64_t token_id(std::string_view content) const;
  const std::vector<AddedToken>& tokens() const { return tokens_; }
  int64_t id_end() const;  // largest id plus one, 0 when empty

 private:
  // A byte trie over token contents; a node's token index is -1 unless a token ends there.
  struct TrieNode {
    std::vector<std::pair<uint8_t, int32_t>> children;  // sorted by byte
    int32_t token_index = -1;
  };
  struct Trie {
    std::vector<TrieNode> nodes{TrieNode{}};
    void insert(std::string_view key, int32_t token_index);
    // Index of the longest token that starts at text[pos], -1 if none.
    int32_t longest_match(std::string_view text, size_t pos, size_t& match_length) const;
  };

  std::vector<AddedToken> tokens_;
  std::unordered_map<int64_t, size_t> index_by_id_;
  std::unordered_map<std::string, size_t> index_by_content_;
  Trie raw_trie_;
  Trie normalized_trie_;
};

}  // namespace abliterate::tokenizer
