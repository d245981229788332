// Tokenizer: an HF tokenizer.json pipeline (spec/model-runtime.md §6.2):
// added tokens -> normalizer -> normalized added tokens -> pre-tokenizer ->
// (byte-level map, §6.4) -> BPE. A GGUF vocabulary (§6.3) builds either the same
// pipeline (byte-level "gpt2") or added tokens -> SpmModel ("llama").
// The post_processor (which would add <bos>) is deliberately not applied: a
// rendered chat prompt carries its own BOS (spec §2, "Tokenizing the rendered prompt").
#include "abliterate/tokenizer/tokenizer.hpp"

#include <optional>

#include "abliterate/common/error.hpp"
#include "abliterate/formats/json_file.hpp"
#include "abliterate/common/utf8.hpp"
#include "abliterate/tokenizer/added_vocabulary.hpp"
#include "abliterate/tokenizer/bpe_model.hpp"
#include "abliterate/tokenizer/byte_level.hpp"
#include "abliterate/tokenizer/gguf_vocab.hpp"
#include "abliterate/tokenizer/regex_splitter.hpp"
#include "abliterate/tokenizer/spm_model.hpp"
#include "abliterate/tokenizer/tokenizer_pipeline.hpp"

namespace abliterate::tokenizer {

struct Tokenizer::Impl {
  AddedVocabulary added;
  Normalizer normalizer;
  PreTokenizer pre_tokenizer;
  BpeModel bpe;
  TokenDecoder decoder;
  int64_t vocab_size = 0;
  // Set for GGUF "llama" vocabularies: replaces normalizer, pre-tokenizer, BPE and decoder.
  std::optional<SpmModel> spm;
  bool add_space_prefix = false;  // spm only: " " before the first fragment, stripped again by decode

  void encode_spm(const std::string& text, SpecialTokens specials, std::vector<int64_t>& ids) const;
  std::string decode_spm(const std::vector<int64_t>& ids, bool skip_special) const;
};

namespace {

using nlohmann::json;

bool flag_or(const json& object, const char* key, bool fallback) {
  return object.contains(key) && object.at(key).is_boolean() ? object.at(key).get<bool>() : fallback;
}

AddedToken parse_added_token(const json& entry, size_t index, const std::string& file) {
  ABL_CHECK(entry.is_object() && entry.contains("id") && entry.at("id").is_number_unsigned() &&
                entry.contains("content") && entry.at("content").is_string(),
            FormatError, "{}: added_tokens[{}]: expected an object with 'id' and 'content', got {}", file, index,
            entry.dump());
  AddedToken token;
  token.id = entry.at("id").get<int64_t>();
  token.content = entry.at("content").get<std::string>();
  token.is_special = flag_or(entry, "special", false);
  // The tokenizers library's default: special tokens match on raw text.
  token.is_normalized = flag_or(entry, "normalized", !token.is_special);
  token.lstrip = flag_or(entry, "lstrip", false);
  token.rstrip = flag_or(entry, "rstrip", false);
  token.single_word = flag_or(entry, "single_word", false);
  return token;
}

const json& field_or_null(const json& root, const char* key) {
  static const json kNull;
  return root.contains(key) ? root.at(key) : kNull;
}

// llama.cpp's regex_exprs per `tokenizer.ggml.pre` (llama-vocab.cpp), each an isolated split in turn.
struct PreTokenizerChoice {
  std::vector<std::string_view> regexes;
  bool ignore_merges = false;  // llama.cpp sets it for Llama 3, as Llama 3's tokenizer.json does
};

PreTokenizerChoice pre_tokenizer_for(const std::string& pre) {
  if (pre == "llama-bpe" || pre == "llama3") return {{kLlama3SplitRegex}, true};
  if (pre == "qwen2") return {{kQwen2SplitRegex}, false};
  // SmolLM2 (LLAMA_VOCAB_PRE_TYPE_SMOLLM, shared with starcoder): single digits
  // first, then GPT-2's regex; its tokenizer.json is Digits(individual) + ByteLevel(use_regex).
  if (pre == "smollm" || pre == "starcoder") return {{R"(\p{N})", kGpt2SplitRegex}, false};
  if (pre == "gpt-2") return {{kGpt2SplitRegex}, false};
  if (pre == "default" || pre.empty()) {
    // llama.cpp's fallback for BPE vocabularies it does not recognise.
    return {{R"([\p{P}\$\+<=>\^~\|]+)", R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))",
             R"(\p{N}+)", R"([0-9][0-9][0-9])"},
            false};
  }
  throw FormatError(fmt::format("GGUF tokenizer.ggml.pre: \"{}\" is not supported (supported: llama-bpe, llama3, qwen2, "
                                "smollm, starcoder, gpt-2, default)",
                                pre));
}

constexpr int32_t kTokenTypeControl = static_cast<int32_t>(SpmTokenType::control);
constexpr int32_t kTokenTypeUserDefined = static_cast<int32_t>(SpmTokenType::user_defined);

}  // namespace

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::from_tokenizer_json(const std::filesystem::path& path) {
  return from_tokenizer_json_text(formats::read_text_file(path), path.string());
}

Tokenizer Tokenizer::from_tokenizer_json_text(const std::string& text, const std::string& file) {
  const json root = formats::parse_json_text(text, file);
  ABL_CHECK(root.is_object(), FormatError, "{}: expected a JSON object, got {}", file, root.type_name());
  ABL_CHECK(root.contains("model"), FormatError, "{}: missing key 'model'", file);

  auto impl = std::make_unique<Impl>();
  impl->bpe = BpeModel::from_json(root.at("model"), file);
  impl->normalizer = Normalizer::from_json(field_or_null(root, "normalizer"), file);
  impl->pre_tokenizer = PreTokenizer::from_json(field_or_null(root, "pre_tokenizer"), file);
  impl->decoder = TokenDecoder::from_json(field_or_null(root, "decoder"), file);

  const json& added_tokens = field_or_null(root, "added_tokens");
  if (!added_tokens.is_null()) {
    ABL_CHECK(added_tokens.is_array(), FormatError, "{}: added_tokens: expected a list", file);
    for (size_t i = 0; i < added_tokens.size(); ++i) impl->added.add(parse_added_token(added_tokens[i], i, file));
  }
  impl->vocab_size = std::max(impl->bpe.id_end(), impl->added.id_end());
  return Tokenizer(std::move(impl));
}

Tokenizer Tokenizer::from_gguf_vocab(const GgufVocab& vocab) {
  const size_t n_tokens = vocab.tokens.size();
  ABL_CHECK(n_tokens > 0, FormatError, "GGUF tokenizer.ggml.tokens: expected a non-empty list, got 0 tokens");
  ABL_CHECK(vocab.token_types.empty() || vocab.token_types.size() == n_tokens, FormatError,
            "GGUF tokenizer.ggml.token_type: expected {} entries (one per token), got {}", n_tokens,
            vocab.token_types.size());
  const auto type_of = [&](size_t id) { return vocab.token_types.empty() ? 1 : vocab.token_types[id]; };

  auto impl = std::make_unique<Impl>();
  for (size_t id = 0; id < n_tokens; ++id) {
    const int32_t type = type_of(id);
    if (type != kTokenTypeControl && type != kTokenTypeUserDefined) continue;
    if (vocab.tokens[id].empty()) continue;  // nothing to match
    AddedToken token;
    token.id = static_cast<int64_t>(id);
    token.content = vocab.tokens[id];
    token.is_special = type == kTokenTypeControl;  // llama.cpp: control tokens only with parse_special
    impl->added.add(std::move(token));
  }
  impl->vocab_size = static_cast<int64_t>(n_tokens);

  if (vocab.model == "llama") {
    ABL_CHECK(vocab.scores.size() == n_tokens, FormatError,
              "GGUF tokenizer.ggml.scores: expected {} entries (one per token), got {}", n_tokens, vocab.scores.size());
    ABL_CHECK(vocab.unk < static_cast<int64_t>(n_tokens), FormatError,
              "GGUF tokenizer.ggml.unknown_token_id: {} is not a token id (vocab size {})", vocab.unk, n_tokens);
    std::vector<int32_t> types(n_tokens);
    for (size_t id = 0; id < n_tokens; ++id) types[id] = type_of(id);
    impl->spm.emplace(vocab.tokens, vocab.scores, std::move(types), vocab.unk);
    impl->add_space_prefix = vocab.add_space_prefix;
    return Tokenizer(std::move(impl));
  }
  ABL_CHECK(vocab.model == "gpt2", FormatError,
            "GGUF tokenizer.ggml.model: \"{}\" is not supported (expected \"llama\" or \"gpt2\")", vocab.model);
  const PreTokenizerChoice choice = pre_tokenizer_for(vocab.pre);
  impl->pre_tokenizer =
      PreTokenizer::from_regexes(choice.regexes, /*byte_level=*/true, "GGUF tokenizer.ggml.pre \"" + vocab.pre + "\"");
  impl->bpe = BpeModel::from_tokens(vocab.tokens, vocab.merges, choice.ignore_merges, "GGUF tokenizer.ggml.merges");
  impl->decoder = TokenDecoder::byte_level();
  return Tokenizer(std::move(impl));
}

void Tokenizer::Impl::encode_spm(const std::string& text, SpecialTokens specials, std::vector<int64_t>& ids) const {
  const std::vector<TextPiece> pieces = added.split(text, /*normalized_pass=*/false, specials);
  for (size_t index = 0; index < pieces.size(); ++index) {
    if (pieces[index].id >= 0) {
      ids.push_back(pieces[index].id);
      continue;
    }
    // Spec §6.3 step 3: the space prefix goes before the very first fragment only.
    std::string escaped = add_space_prefix && index == 0 ? std::string(kSpmSpace) : std::string();
    for (const char c : pieces[index].text) {
      if (c == ' ') escaped += kSpmSpace;
      else escaped.push_back(c);
    }
    spm->tokenize(escaped, ids);
  }
}

std::string Tokenizer::Impl::decode_spm(const std::vector<int64_t>& ids, bool skip_special) const {
  // llama.cpp's token_to_piece + detokenize (spec §6.3): byte pieces are
  // joined and decoded as UTF-8 (an invalid run gives one U+FFFD per byte).
  std::string text;
  std::string pending_bytes;
  const auto flush = [&]() {
    if (is_valid_utf8(pending_bytes)) {
      text += pending_bytes;
    } else {
      for (size_t i = 0; i < pending_bytes.size(); ++i) text += kUtf8ReplacementChar;
    }
    pending_bytes.clear();
  };
  bool first_piece = true;
  for (const int64_t id : ids) {
    ABL_CHECK(id >= 0 && id < spm->size(), InputError, "decode: token id {} is not in the vocabulary (size {})", id,
              spm->size());
    std::string piece;
    // SentencePiece renders the unknown piece as " ⁇ " whatever its type (Gemma marks <unk> control).
    const SpmTokenType type = id == spm->unk_id() ? SpmTokenType::unknown : spm->token_type(id);
    switch (type) {
      case SpmTokenType::byte: {
        const int byte = spm->byte_value(id);
        if (byte >= 0) {
          pending_bytes.push_back(static_cast<char>(byte));
          first_piece = false;
          continue;
        }
        piece = spm->token_text(id);
        break;
      }
      case SpmTokenType::control:
        if (skip_special) continue;
        piece = spm->token_text(id);
        break;
      case SpmTokenType::user_defined: piece = spm->token_text(id); break;
      case SpmTokenType::unknown: piece = " \xE2\x81\x87 "; break;  // " ⁇ ", SentencePiece's unk surface
      case SpmTokenType::normal:
      case SpmTokenType::unused: {
        const std::string& raw = spm->token_text(id);
        for (size_t pos = 0; pos < raw.size();) {
          if (raw.compare(pos, kSpmSpace.size(), kSpmSpace) == 0) {
            piece.push_back(' ');
            pos += kSpmSpace.size();
          } else {
            piece.push_back(raw[pos++]);
          }
        }
        break;
      }
    }
    flush();
    if (first_piece && add_space_prefix && !piece.empty() && piece[0] == ' ') piece.erase(0, 1);
    first_piece = false;
    text += piece;
  }
  flush();
  return text;
}

std::vector<int64_t> Tokenizer::encode(const std::string& text, SpecialTokens specials) const {
  std::vector<int64_t> ids;
  if (impl_->spm) {
    impl_->encode_spm(text, specials, ids);
    return ids;
  }
  for (const TextPiece& raw_piece : impl_->added.split(text, /*normalized_pass=*/false, specials)) {
    if (raw_piece.id >= 0) {
      ids.push_back(raw_piece.id);
      continue;
    }
    const std::string normalized = impl_->normalizer.apply(raw_piece.text);
    for (const TextPiece& piece : impl_->added.split(normalized, /*normalized_pass=*/true, specials)) {
      if (piece.id >= 0) {
        ids.push_back(piece.id);
        continue;
      }
      const bool byte_level = impl_->pre_tokenizer.byte_level();
      for (std::string_view word : impl_->pre_tokenizer.split(piece.text)) {
        if (byte_level) {
          impl_->bpe.tokenize_word(byte_level_encode(word), ids);
        } else {
          impl_->bpe.tokenize_word(word, ids);
        }
      }
    }
  }
  return ids;
}

std::string Tokenizer::decode(const std::vector<int64_t>& ids, bool skip_special) const {
  if (impl_->spm) return impl_->decode_spm(ids, skip_special);
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (const int64_t id : ids) {
    if (const AddedToken* added = impl_->added.find(id)) {
      if (!(skip_special && added->is_special)) tokens.push_back(added->content);
      continue;
    }
    const std::string* text = impl_->bpe.token_text(id);
    ABL_CHECK(text != nullptr, InputError, "decode: token id {} is not in the vocabulary (size {})", id,
              impl_->vocab_size);
    tokens.push_back(*text);
  }
  return impl_->decoder.decode(std::move(tokens));
}

size_t Tokenizer::settled_length(const std::vector<int64_t>& ids) const {
  // A special token decoded with skip_special vanishes, and the byte runs on
  // either side join: it cannot end a run, so it is passed over too.
  const auto is_open_ended = [&](int64_t id) {
    if (impl_->spm) {
      if (id < 0 || id >= impl_->spm->size() || id == impl_->spm->unk_id()) return false;
      const SpmTokenType type = impl_->spm->token_type(id);
      return type == SpmTokenType::control || (type == SpmTokenType::byte && impl_->spm->byte_value(id) >= 0);
    }
    if (const AddedToken* added = impl_->added.find(id)) return added->is_special;
    const std::string* text = impl_->bpe.token_text(id);
    return text != nullptr && impl_->decoder.is_open_ended(*text);
  };
  size_t n_settled = ids.size();
  while (n_settled > 0 && is_open_ended(ids[n_settled - 1])) --n_settled;
  return n_settled;
}

int64_t Tokenizer::vocab_size() const { return impl_->vocab_size; }

int64_t Tokenizer::token_id(const std::string& token_text) const {
  const int64_t added = impl_->added.token_id(token_text);
  if (added >= 0) return added;
  return impl_->spm ? impl_->spm->token_id(token_text) : impl_->bpe.token_id(token_text);
}

bool Tokenizer::is_special(int64_t id) const {
  const AddedToken* added = impl_->added.find(id);
  return added != nullptr && added->is_special;
}

}  // namespace abliterate::tokenizer
