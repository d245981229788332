// Module tokenizer: text <-> token ids: BPE, SentencePiece, byte level, tokenizer.json, GGUF vocabularies.
// Must not know: chat templates, models or torch.
//
// Text <-> token ids, from an HF tokenizer.json (spec/model-runtime.md §6.2,
// §6.4) or from the vocabulary of a GGUF file (§6.3, §6.4).
// Immutable after construction; safe to share between threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace abliterate::tokenizer {

struct GgufVocab;

// Whether special-token strings inside the text ("<start_of_turn>") become
// their ids. Chat prompts are rendered with specials, so they parse them.
enum class SpecialTokens { parse, as_text };

class Tokenizer {
 public:
  // Loads tokenizer.json. Throws FormatError naming the file and the problem.
  static Tokenizer from_tokenizer_json(const std::filesystem::path& path);
  // The same from the file's text; `name` names it in errors (fuzz targets, tests).
  static Tokenizer from_tokenizer_json_text(const std::string& text, const std::string& name);

  // Builds the tokenizer llama.cpp would from GGUF metadata: "llama" =
  // SentencePiece BPE by scores with byte fallback; "gpt2" = byte-level BPE by
  // merge rank, split regexes chosen by `vocab.pre`. Control tokens (type 3) are
  // special; user-defined ones (type 4) are always matched atomically. Throws
  // FormatError for an unknown model or pre, or arrays of mismatched sizes.
  static Tokenizer from_gguf_vocab(const GgufVocab& vocab);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // Ids of `text`; never adds BOS (a rendered chat template carries its own).
  std::vector<int64_t> encode(const std::string& text, SpecialTokens specials = SpecialTokens::parse) const;

  // Text of `ids`; special/control tokens are dropped when skip_special.
  std::string decode(const std::vector<int64_t>& ids, bool skip_special = true) const;

  // How many leading ids of `ids` have settled text: decode(first n ids) is
  // a prefix of decode(ids followed by any ids), with or without
  // skip_special. What is left is a trailing run of byte pieces (byte
  // fallback joins a run before decoding it, and a byte-level token may hold
  // part of a character) and special tokens (skipped, they join the runs on
  // either side), which later ids can still turn into other text.
  size_t settled_length(const std::vector<int64_t>& ids) const;

  int64_t vocab_size() const;
  // -1 when the tokenizer has no such token.
  int64_t token_id(const std::string& token_text) const;
  bool is_special(int64_t id) const;

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace abliterate::tokenizer
