// BpeModel: see include/abliterate/tokenizer/bpe_model.hpp and
// spec/model-runtime.md §6.2 (merge order, byte fallback, unk fusing).
#include "abliterate/tokenizer/bpe_model.hpp"

#include <queue>

#include "abliterate/common/error.hpp"
#include "abliterate/common/utf8.hpp"

namespace abliterate::tokenizer {

namespace {

using nlohmann::json;

// Ids are packed two to a 64-bit merge key.
constexpr int64_t kMaxTokenId = (int64_t{1} << 31) - 1;
// How far past the vocabulary's size a model.vocab id may lie (real files number their tokens 0..n-1).
constexpr int64_t kMaxIdGap = int64_t{1} << 16;

bool get_bool_or(const json& object, const char* key, bool fallback, const std::string& file) {
  if (!object.contains(key) || object.at(key).is_null()) return fallback;
  ABL_CHECK(object.at(key).is_boolean(), FormatError, "{}: model.{}: expected a boolean, got {}", file, key,
            object.at(key).dump());
  return object.at(key).get<bool>();
}

// One symbol of a word being merged: a doubly linked list over a vector, as in
// the tokenizers library (a merged-away symbol gets length 0).
struct Symbol {
  int64_t id;
  int64_t prev;
  int64_t next;
  size_t length_bytes;
};

struct MergeCandidate {
  int32_t rank;
  int64_t pos;
  int64_t new_id;
  // priority_queue pops the largest: invert so the lowest rank, then the leftmost position, comes first.
  bool operator<(const MergeCandidate& other) const {
    if (rank != other.rank) return rank > other.rank;
    return pos > other.pos;
  }
};

}  // namespace

BpeModel BpeModel::from_json(const json& model, const std::string& file) {
  ABL_CHECK(model.is_object(), FormatError, "{}: 'model' must be an object", file);
  const std::string type = model.contains("type") && model.at("type").is_string() ? model.at("type").get<std::string>()
                                                                                  : "BPE";
  ABL_CHECK(type == "BPE", FormatError, "{}: model.type: \"{}\" is not supported (expected \"BPE\")", file, type);
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    ABL_CHECK(!model.contains(key) || model.at(key).is_null() ||
                  (model.at(key).is_string() && model.at(key).get<std::string>().empty()),
              FormatError, "{}: model.{}: subword prefixes/suffixes are not supported (expected null)", file, key);
  }
  ABL_CHECK(!model.contains("dropout") || model.at("dropout").is_null() ||
                (model.at("dropout").is_number() && model.at("dropout").get<double>() == 0.0),
            FormatError, "{}: model.dropout: BPE dropout would make encoding random (expected null)", file);

  BpeModel bpe;
  ABL_CHECK(model.contains("vocab") && model.at("vocab").is_object(), FormatError,
            "{}: model.vocab: expected an object of token -> id", file);
  const int64_t n_vocab = static_cast<int64_t>(model.at("vocab").size());
  for (const auto& [token, id_json] : model.at("vocab").items()) {
    ABL_CHECK(id_json.is_number_integer(), FormatError, "{}: model.vocab[\"{}\"]: expected an integer id, got {}",
              file, token, id_json.dump());
    const int64_t id = id_json.get<int64_t>();
    ABL_CHECK(id >= 0 && id <= kMaxTokenId, FormatError, "{}: model.vocab[\"{}\"]: id {} is out of range", file,
              token, id);
    // The id table is dense, so an id far past the vocabulary's size would
    // allocate for ids that do not exist (found by tokenizer_json_fuzz).
    ABL_CHECK(id < n_vocab + kMaxIdGap, FormatError,
              "{}: model.vocab[\"{}\"]: id {} is far past the vocabulary's {} tokens (ids should run from 0 to {})",
              file, token, id, n_vocab, n_vocab - 1);
    if (static_cast<size_t>(id) >= bpe.id_to_token_.size()) {
      bpe.id_to_token_.resize(static_cast<size_t>(id) + 1);
      bpe.has_id_.resize(static_cast<size_t>(id) + 1, false);
    }
    ABL_CHECK(!bpe.has_id_[static_cast<size_t>(id)], FormatError,
              "{}: model.vocab: id {} is used by both \"{}\" and \"{}\"", file, id,
              bpe.id_to_token_[static_cast<size_t>(id)], token);
    bpe.id_to_token_[static_cast<size_t>(id)] = token;
    bpe.has_id_[static_cast<size_t>(id)] = true;
    bpe.vocab_.emplace(token, id);
  }

  const json empty_list = json::array();
  const json& merges = model.contains("merges") && !model.at("merges").is_null() ? model.at("merges") : empty_list;
  ABL_CHECK(merges.is_array(), FormatError, "{}: model.merges: expected a list", file);
  ABL_CHECK(merges.size() < static_cast<size_t>(INT32_MAX), FormatError, "{}: model.merges: too many merges", file);
  bpe.merges_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const json& merge = merges[rank];
    std::string left;
    std::string right;
    if (merge.is_string()) {
      // Older files: "left right", split at the single space (tokens never contain spaces here).
      const std::string text = merge.get<std::string>();
      const size_t space = text.find(' ');
      ABL_CHECK(space != std::string::npos && text.find(' ', space + 1) == std::string::npos, FormatError,
                "{}: model.merges[{}]: expected \"left right\", got \"{}\"", file, rank, text);
      left = text.substr(0, space);
      right = text.substr(space + 1);
    } else {
      ABL_CHECK(merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string(), FormatError,
                "{}: model.merges[{}]: expected \"left right\" or [\"left\", \"right\"], got {}", file, rank,
                merge.dump());
      left = merge[0].get<std::string>();
      right = merge[1].get<std::string>();
    }
    const int64_t left_id = bpe.token_id(left);
    const int64_t right_id = bpe.token_id(right);
    const int64_t merged_id = bpe.token_id(left + right);
    ABL_CHECK(left_id >= 0 && right_id >= 0, FormatError, "{}: model.merges[{}]: \"{}\" is not in the vocab", file,
              rank, left_id < 0 ? left : right);
    ABL_CHECK(merged_id >= 0, FormatError, "{}: model.merges[{}]: the merged token \"{}\" is not in the vocab", file,
              rank, left + right);
    // A repeated pair keeps its last rank: the tokenizers library collects merges into a map in order.
    bpe.merges_.insert_or_assign(pair_key(left_id, right_id), MergeResult{static_cast<int32_t>(rank), merged_id});
  }

  if (model.contains("unk_token") && !model.at("unk_token").is_null()) {
    ABL_CHECK(model.at("unk_token").is_string(), FormatError, "{}: model.unk_token: expected a string", file);
    const std::string unk = model.at("unk_token").get<std::string>();
    bpe.unk_id_ = bpe.token_id(unk);
    ABL_CHECK(bpe.unk_id_ >= 0, FormatError, "{}: model.unk_token: \"{}\" is not in the vocab", file, unk);
  }
  bpe.byte_fallback_ = get_bool_or(model, "byte_fallback", false, file);
  bpe.fuse_unk_ = get_bool_or(model, "fuse_unk", false, file);
  bpe.ignore_merges_ = get_bool_or(model, "ignore_merges", false, file);
  for (int byte = 0; byte < 256; ++byte) {
    bpe.byte_ids_[static_cast<size_t>(byte)] = bpe.token_id(fmt::format("<0x{:02X}>", byte));
  }
  return bpe;
}

BpeModel BpeModel::from_tokens(const std::vector<std::string>& tokens, const std::vector<std::string>& merges,
                               bool ignore_merges, const std::string& where) {
  ABL_CHECK(static_cast<int64_t>(tokens.size()) <= kMaxTokenId, FormatError, "{}: {} tokens is too many", where,
            tokens.size());
  ABL_CHECK(merges.size() < static_cast<size_t>(INT32_MAX), FormatError, "{}: too many merges", where);
  BpeModel bpe;
  bpe.id_to_token_ = tokens;
  bpe.has_id_.assign(tokens.size(), true);
  bpe.vocab_.reserve(tokens.size());
  for (size_t id = 0; id < tokens.size(); ++id) bpe.vocab_.insert_or_assign(tokens[id], static_cast<int64_t>(id));
  bpe.merges_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const std::string& merge = merges[rank];
    // llama.cpp searches from index 1, so a left part may itself start with a space.
    const size_t space = merge.size() > 1 ? merge.find(' ', 1) : std::string::npos;
    ABL_CHECK(space != std::string::npos, FormatError, "{}: merges[{}]: expected \"left right\", got \"{}\"", where,
              rank, merge);
    const int64_t left_id = bpe.token_id(std::string_view(merge).substr(0, space));
    const int64_t right_id = bpe.token_id(std::string_view(merge).substr(space + 1));
    std::string merged = merge.substr(0, space) + merge.substr(space + 1);
    const int64_t merged_id = bpe.token_id(merged);
    if (left_id < 0 || right_id < 0 || merged_id < 0) continue;
    // A repeated pair keeps its first rank (llama.cpp's bpe_ranks.emplace).
    bpe.merges_.emplace(pair_key(left_id, right_id), MergeResult{static_cast<int32_t>(rank), merged_id});
  }
  bpe.byte_ids_.fill(-1);
  bpe.ignore_merges_ = ignore_merges;
  return bpe;
}

int64_t BpeModel::token_id(std::string_view token) const {
  const auto it = vocab_.find(std::string(token));
  return it == vocab_.end() ? -1 : it->second;
}

const std::string* BpeModel::token_text(int64_t id) const {
  if (id < 0 || id >= id_end() || !has_id_[static_cast<size_t>(id)]) return nullptr;
  return &id_to_token_[static_cast<size_t>(id)];
}

void BpeModel::tokenize_word(std::string_view word, std::vector<int64_t>& out) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    if (const int64_t id = token_id(word); id >= 0) {
      out.push_back(id);
      return;
    }
  }

  // Initial symbols: one per character (tokenizers' BPE::merge_word).
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  const auto add_symbol = [&](int64_t id, size_t length_bytes) {
    const auto index = static_cast<int64_t>(symbols.size());
    symbols.push_back(Symbol{id, index - 1, -1, length_bytes});
    if (index > 0) symbols[static_cast<size_t>(index - 1)].next = index;
  };
  int64_t pending_unk_bytes = 0;  // a run of unknown characters not yet emitted
  const auto flush_unk = [&]() {
    if (pending_unk_bytes > 0) add_symbol(unk_id_, static_cast<size_t>(pending_unk_bytes));
    pending_unk_bytes = 0;
  };
  for (size_t pos = 0; pos < word.size();) {
    const size_t length = utf8_char_length(word, pos);
    const std::string_view character = word.substr(pos, length);
    pos += length;
    if (const int64_t id = token_id(character); id >= 0) {
      flush_unk();
      add_symbol(id, length);
      continue;
    }
    if (byte_fallback_) {
      bool all_bytes_known = true;
      for (char c : character) all_bytes_known = all_bytes_known && byte_ids_[static_cast<uint8_t>(c)] >= 0;
      if (all_bytes_known) {
        flush_unk();
        for (char c : character) add_symbol(byte_ids_[static_cast<uint8_t>(c)], 1);
        continue;
      }
    }
    if (unk_id_ < 0) continue;
    if (!fuse_unk_) flush_unk();
    pending_unk_bytes += static_cast<int64_t>(length);
  }
  flush_unk();

  // Merge lowest rank first, ties leftmost (tokenizers' Word::merge_all).
  std::priority_queue<MergeCandidate> queue;
  const auto push_pair = [&](int64_t pos) {
    const Symbol& left = symbols[static_cast<size_t>(pos)];
    if (left.next < 0) return;
    const auto it = merges_.find(pair_key(left.id, symbols[static_cast<size_t>(left.next)].id));
    if (it != merges_.end()) queue.push(MergeCandidate{it->second.rank, pos, it->second.new_id});
  };
  for (int64_t pos = 0; pos + 1 < static_cast<int64_t>(symbols.size()); ++pos) push_pair(pos);
  while (!queue.empty()) {
    const MergeCandidate top = queue.top();
    queue.pop();
    Symbol& left = symbols[static_cast<size_t>(top.pos)];
    if (left.length_bytes == 0 || left.next < 0) continue;
    const int64_t right_pos = left.next;
    Symbol& right = symbols[static_cast<size_t>(right_pos)];
    // A stale candidate: one of its symbols has merged with something else since.
    const auto it = merges_.find(pair_key(left.id, right.id));
    if (it == merges_.end() || it->second.new_id != top.new_id) continue;
    left.id = top.new_id;
    left.length_bytes += right.length_bytes;
    left.next = right.next;
    right.length_bytes = 0;
    if (left.next >= 0) symbols[static_cast<size_t>(left.next)].prev = top.pos;
    if (left.prev >= 0) push_pair(left.prev);
    push_pair(top.pos);
  }
  for (const Symbol& symbol : symbols) {
    if (symbol.length_bytes > 0) out.push_back(symbol.id);
  }
}

}  // namespace abliterate::tokenizer
