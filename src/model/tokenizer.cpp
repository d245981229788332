// Tokenizer: an HF tokenizer.json pipeline (spec/model-runtime.md §6.2):
// added tokens -> normalizer -> normalized added tokens -> pre-tokenizer -> BPE.
// The post_processor (which would add <bos>) is deliberately not applied: a
// rendered chat prompt carries its own BOS (spec §2, "Tokenizing the rendered prompt").
#include "abliterate/model/tokenizer.hpp"

#include "abliterate/common/error.hpp"
#include "abliterate/model/added_vocabulary.hpp"
#include "abliterate/model/bpe_model.hpp"
#include "abliterate/model/json_file.hpp"
#include "abliterate/model/tokenizer_pipeline.hpp"

namespace abliterate::model {

struct Tokenizer::Impl {
  AddedVocabulary added;
  Normalizer normalizer;
  PreTokenizer pre_tokenizer;
  BpeModel bpe;
  TokenDecoder decoder;
  int64_t vocab_size = 0;
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

}  // namespace

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::from_tokenizer_json(const std::filesystem::path& path) {
  const json root = read_json_file(path);
  const std::string file = path.string();
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

std::vector<int64_t> Tokenizer::encode(const std::string& text, SpecialTokens specials) const {
  std::vector<int64_t> ids;
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
      for (std::string_view word : impl_->pre_tokenizer.split(piece.text)) impl_->bpe.tokenize_word(word, ids);
    }
  }
  return ids;
}

std::string Tokenizer::decode(const std::vector<int64_t>& ids, bool skip_special) const {
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

int64_t Tokenizer::vocab_size() const { return impl_->vocab_size; }

int64_t Tokenizer::token_id(const std::string& token_text) const {
  const int64_t added = impl_->added.token_id(token_text);
  return added >= 0 ? added : impl_->bpe.token_id(token_text);
}

bool Tokenizer::is_special(int64_t id) const {
  const AddedToken* added = impl_->added.find(id);
  return added != nullptr && added->is_special;
}

}  // namespace abliterate::model
