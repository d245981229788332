// The "BPE" model of an HF tokenizer.json (spec/model-runtime.md §6.2): vocab,
// ranked merges, unk, byte fallback. It turns one pre-tokenized word into ids
// by merging the adjacent pair of lowest merge rank (ties: leftmost) until no
// pair has a rank, exactly as the tokenizers library's Word::merge_all.
//
// Byte-level BPE (spec §6.4) will reuse this class with an alphabet of
// byte-mapped characters and no byte fallback; the pre-tokenizer regex lives
// in the pipeline, not here. Immutable after construction; thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

namespace abliterate::tokenizer {

class BpeModel {
 public:
  // Reads the "model" object of tokenizer.json (type "BPE"): vocab (string ->
  // id), merges ("a b" strings or ["a", "b"] pairs), unk_token, byte_fallback,
  // fuse_unk, ignore_merges. Throws FormatError naming `file` and the field
  // (a merge whose parts or result are not in the vocab, a duplicate id, ...).
  static BpeModel from_json(const nlohmann::json& model, const std::string& file);

  // A byte-level vocabulary of a GGUF file (spec §6.3, `tokenizer.ggml.model`
  // "gpt2"): token text by id (a repeated text keeps its last id, as llama.cpp's
  // token_to_id does) and merges "left right" with rank = index. A merge whose
  // parts or result are not tokens can never fire on ids and is skipped. No unk,
  // no byte fallback: every byte character is a token. Throws FormatError naming
  // `where` and the merge index for a merge without a space.
  static BpeModel from_tokens(const std::vector<std::string>& tokens, const std::vector<std::string>& merges,
                              bool ignore_merges, const std::string& where);

  // Appends the ids of `word` (already normalized and pre-tokenized) to `out`.
  // A character missing from the vocab becomes its <0xXX> byte tokens when
  // byte_fallback is on and they all exist, else unk (runs fused when fuse_unk),
  // else it is dropped (what the tokenizers library does without an unk token).
  void tokenize_word(std::string_view word, std::vector<int64_t>& out) const;

  // -1 when `token` is not in the vocab.
  int64_t token_id(std::string_view token) const;
  // nullptr when no vocab entry has this id.
  const std::string* token_text(int64_t id) const;
  // Largest id in the vocab plus one.
  int64_t id_end() const { return static_cast<int64_t>(id_to_token_.size()); }
  int64_t n_merges() const { return static_cast<int64_t>(merges_.size()); }

 private:
  struct MergeResult {
    int32_t rank;
    int64_t new_id;
  };
  static uint64_t pair_key(int64_t left, int64_t right) {
    return (static_cast<uint64_t>(left) << 32) | static_cast<uint64_t>(right);
  }

  std::unordered_map<std::string, int64_t> vocab_;
  std::vector<std::string> id_to_token_;        // "" for ids the vocab skips
  std::vector<bool> has_id_;
  std::unordered_map<uint64_t, MergeResult> merges_;  // (left id, right id) -> rank and merged id
  std::array<int64_t, 256> byte_ids_{};         // id of "<0xXX>", -1 when absent
  int64_t unk_id_ = -1;
  bool byte_fallback_ = false;
  bool fuse_unk_ = false;
  bool ignore_merges_ = false;
};

}  // namespace abliterate::tokenizer
