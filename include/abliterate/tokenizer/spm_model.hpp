// SentencePiece-style BPE by piece scores, for GGUF vocabularies with
// `tokenizer.ggml.model` = "llama" (spec/model-runtime.md §6.1, §6.3): the
// adjacent pair whose concatenation is a piece with the highest score merges
// first (ties: leftmost); merged unused pieces are split back into the halves
// they were made of; a leftover symbol that is no piece becomes its <0xXX>
// byte pieces (unk when one is missing). Immutable after construction;
// thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace abliterate::tokenizer {

// `tokenizer.ggml.token_type` values (spec §5.5).
enum class SpmTokenType : int32_t {
  normal = 1,
  unknown = 2,
  control = 3,
  user_defined = 4,
  unused = 5,
  byte = 6,
};

class SpmModel {
 public:
  // tokens/scores/types are parallel arrays indexed by id (types: SpmTokenType
  // values; anything else counts as normal). `unk_id` may be -1. Sizes must
  // match (the caller checks and names the file).
  SpmModel(std::vector<std::string> tokens, std::vector<float> scores, std::vector<int32_t> types, int64_t unk_id);

  // tokenizer.ggml.unknown_token_id, or -1.
  int64_t unk_id() const { return unk_id_; }

  // Appends the ids of `text`, already escaped (spaces are "▁") and free of
  // user-defined/control tokens, to `out`.
  void tokenize(std::string_view text, std::vector<int64_t>& out) const;

  int64_t size() const { return static_cast<int64_t>(tokens_.size()); }
  // -1 when no piece has this text.
  int64_t token_id(std::string_view text) const;
  // Precondition: 0 <= id < size().
  const std::string& token_text(int64_t id) const { return tokens_[static_cast<size_t>(id)]; }
  SpmTokenType token_type(int64_t id) const { return types_[static_cast<size_t>(id)]; }
  // The byte of a BYTE piece "<0xXX>", -1 for any other id.
  int byte_value(int64_t id) const;

 private:
  // Pieces a merge may produce (SentencePiece's pieces_: normal, user-defined, unused).
  bool mergeable(int64_t id) const;
  void emit_symbol(const std::string& text, std::vector<int64_t>& out,
                   const std::unordered_map<std::string, std::pair<std::string, std::string>>& halves) const;

  std::vector<std::string> tokens_;
  std::vector<float> scores_;
  std::vector<SpmTokenType> types_;
  std::unordered_map<std::string, int64_t> ids_;
  std::array<int64_t, 256> byte_ids_{};  // id of "<0xXX>", -1 when absent
  int64_t unk_id_ = -1;
};

}  // namespace abliterate::tokenizer
