// Stopping a batch of prefix-detection responses once their common prefix
// is decided (method spec §3.4). Heretic generates max_response_length
// tokens for every probe prompt only to take the responses' common prefix;
// as soon as a batch's rows disagree on text that no later token can change,
// the rest of their tokens cannot move that prefix, so the batch may stop.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "abliterate/tokenizer/tokenizer.hpp"

namespace abliterate::evaluate {

// A model::RowStopFn for one batch of `n_rows` rows (a fresh one per batch).
// Every row says "stop" once the rows' settled texts (Tokenizer::
// settled_length, decoded with special tokens kept) share a common prefix
// shorter than each of them: the rows then differ at a byte no later token
// changes. See Note [Stopping a prefix probe once its rows diverge] in
// divergence_stop.cpp for why the common prefix of all responses is the
// same as with whole responses.
class DivergenceStop {
 public:
  DivergenceStop(const tokenizer::Tokenizer& tokenizer, size_t n_rows);

  // Called after row `row_idx` took a token; `new_ids` are all its new ids.
  bool operator()(int64_t row_idx, const std::vector<int64_t>& new_ids);

 private:
  bool rows_diverged() const;

  const tokenizer::Tokenizer* tokenizer_;
  std::vector<std::string> settled_texts_;  // per row; only ever grows
  bool diverged_ = false;
};

}  // namespace abliterate::evaluate
