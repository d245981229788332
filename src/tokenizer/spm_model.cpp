// SpmModel: see include/abliterate/tokenizer/spm_model.hpp and
// spec/model-runtime.md §6.1 (sentencepiece bpe_model.cc's Encode).
#include "abliterate/tokenizer/spm_model.hpp"

#include <queue>

#include <fmt/format.h>

#include "abliterate/common/utf8.hpp"

namespace abliterate::tokenizer {

namespace {

// One symbol of the text being merged: a byte range, linked to its neighbours.
struct Symbol {
  int64_t prev;
  int64_t next;
  size_t begin;
  size_t length;  // 0 once merged into its left neighbour
};

struct Bigram {
  float score;
  int64_t left;
  int64_t right;
  size_t length;  // merged length when pushed: a mismatch later means the pair is stale
  // priority_queue pops the largest: higher score first, then the leftmost.
  bool operator<(const Bigram& other) const {
    if (score != other.score) return score < other.score;
    return left > other.left;
  }
};

SpmTokenType type_of(int32_t value) {
  return value >= 1 && value <= 6 ? static_cast<SpmTokenType>(value) : SpmTokenType::normal;
}

}  // namespace

SpmModel::SpmModel(std::vector<std::string> tokens, std::vector<float> scores, std::vector<int32_t> types,
                   int64_t unk_id)
    : tokens_(std::move(tokens)), scores_(std::move(scores)), unk_id_(unk_id) {
  types_.reserve(tokens_.size());
  for (size_t id = 0; id < tokens_.size(); ++id) {
    types_.push_back(id < types.size() ? type_of(types[id]) : SpmTokenType::normal);
  }
  scores_.resize(tokens_.size(), 0.0f);
  ids_.reserve(tokens_.size());
  for (size_t id = 0; id < tokens_.size(); ++id) ids_.insert_or_assign(tokens_[id], static_cast<int64_t>(id));
  for (int byte = 0; byte < 256; ++byte) {
    const int64_t id = token_id(fmt::format("<0x{:02X}>", byte));
    byte_ids_[static_cast<size_t>(byte)] = id >= 0 && types_[static_cast<size_t>(id)] == SpmTokenType::byte ? id : -1;
  }
}

int64_t SpmModel::token_id(std::string_view text) const {
  const auto it = ids_.find(std::string(text));
  return it == ids_.end() ? -1 : it->second;
}

int SpmModel::byte_value(int64_t id) const {
  if (id < 0 || id >= size() || types_[static_cast<size_t>(id)] != SpmTokenType::byte) return -1;
  for (int byte = 0; byte < 256; ++byte) {
    if (byte_ids_[static_cast<size_t>(byte)] == id) return byte;
  }
  return -1;
}

bool SpmModel::mergeable(int64_t id) const {
  const SpmTokenType type = types_[static_cast<size_t>(id)];
  return type == SpmTokenType::normal || type == SpmTokenType::user_defined || type == SpmTokenType::unused;
}

void SpmModel::emit_symbol(const std::string& text, std::vector<int64_t>& out,
                           const std::unordered_map<std::string, std::pair<std::string, std::string>>& halves) const {
  const int64_t id = token_id(text);
  if (id >= 0 && mergeable(id) && types_[static_cast<size_t>(id)] != SpmTokenType::unused) {
    out.push_back(id);
    return;
  }
  // An unused piece that a merge produced: split it back (SentencePiece's resegment).
  if (id >= 0 && types_[static_cast<size_t>(id)] == SpmTokenType::unused) {
    const auto it = halves.find(text);
    if (it != halves.end()) {
      emit_symbol(it->second.first, out, halves);
      emit_symbol(it->second.second, out, halves);
      return;
    }
    out.push_back(id);  // a single character that is itself an unused piece
    return;
  }
  // Not a piece: byte fallback, or unk when some byte piece is missing.
  bool all_bytes = true;
  for (const char c : text) all_bytes = all_bytes && byte_ids_[static_cast<uint8_t>(c)] >= 0;
  if (all_bytes) {
    for (const char c : text) out.push_back(byte_ids_[static_cast<uint8_t>(c)]);
  } else if (unk_id_ >= 0) {
    out.push_back(unk_id_);
  }
}

void SpmModel::tokenize(std::string_view text, std::vector<int64_t>& out) const {
  if (text.empty()) return;
  std::vector<Symbol> symbols;
  for (size_t pos = 0; pos < text.size();) {
    const size_t length = utf8_char_length(text, pos);
    const auto index = static_cast<int64_t>(symbols.size());
    symbols.push_back(Symbol{index - 1, -1, pos, length});
    if (index > 0) symbols[static_cast<size_t>(index - 1)].next = index;
    pos += length;
  }

  std::priority_queue<Bigram> queue;
  // Merged piece text -> the two symbol texts it came from, for resegmenting unused pieces.
  std::unordered_map<std::string, std::pair<std::string, std::string>> halves;
  const auto symbol_text = [&](int64_t index) {
    const Symbol& symbol = symbols[static_cast<size_t>(index)];
    return text.substr(symbol.begin, symbol.length);
  };
  const auto try_add = [&](int64_t left, int64_t right) {
    if (left < 0 || right < 0) return;
    const std::string_view left_text = symbol_text(left);
    const std::string_view right_text = symbol_text(right);
    std::string merged(left_text);
    merged += right_text;
    const int64_t id = token_id(merged);
    if (id < 0 || !mergeable(id)) return;
    queue.push(Bigram{scores_[static_cast<size_t>(id)], left, right, merged.size()});
    if (types_[static_cast<size_t>(id)] == SpmTokenType::unused) {
      halves.insert_or_assign(merged, std::make_pair(std::string(left_text), std::string(right_text)));
    }
  };
  for (int64_t index = 1; index < static_cast<int64_t>(symbols.size()); ++index) try_add(index - 1, index);

  while (!queue.empty()) {
    const Bigram top = queue.top();
    queue.pop();
    Symbol& left = symbols[static_cast<size_t>(top.left)];
    Symbol& right = symbols[static_cast<size_t>(top.right)];
    // Stale: either side merged with something else since the pair was pushed.
    if (left.length == 0 || right.length == 0 || left.length + right.length != top.length) continue;
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[static_cast<size_t>(right.next)].prev = top.left;
    try_add(left.prev, top.left);
    try_add(top.left, left.next);
  }

  for (int64_t index = 0; index >= 0 && index < static_cast<int64_t>(symbols.size());
       index = symbols[static_cast<size_t>(index)].next) {
    emit_symbol(std::string(symbol_text(index)), out, halves);
  }
}

}  // namespace abliterate::tokenizer
