// DivergenceStop: see include/abliterate/evaluate/divergence_stop.hpp.
#include "abliterate/evaluate/divergence_stop.hpp"

#include <algorithm>

#include "abliterate/common/error.hpp"

namespace abliterate::evaluate {

// Note [Stopping a prefix probe once its rows diverge]
// Let S_r be row r's settled text when the batch stops, m the length of the
// common prefix of all S_r, and suppose m < |S_r| for every r (so two rows
// differ at byte m). Row r's text at the stop, D_r, and its text after full
// generation, T_r, both begin with S_r (settled text is a prefix of every
// later decode), so D_r, T_r and S_r agree on bytes 0..m. Common prefixes
// (and Heretic's checks after them: the byte after the prefix, trailing
// spaces) only read bytes 0..m of this batch's rows, so the common prefix of
// all responses, over every batch, is the same with D_r as with T_r. A row
// that ended at a stop token is not called again: it keeps the settled text
// of its last call, still a prefix of its whole text, so the argument holds.

DivergenceStop::DivergenceStop(const tokenizer::Tokenizer& tokenizer, size_t n_rows)
    : tokenizer_(&tokenizer), settled_texts_(n_rows) {}

bool DivergenceStop::operator()(int64_t row_idx, const std::vector<int64_t>& new_ids) {
  ABL_ASSERT(row_idx >= 0 && static_cast<size_t>(row_idx) < settled_texts_.size(), "row {} of {}", row_idx,
             settled_texts_.size());
  // Settled texts only grow, so rows that differ once differ for good: the
  // rest of the batch's rows stop without another decode.
  if (diverged_) return true;
  const size_t n_settled = tokenizer_->settled_length(new_ids);
  const std::vector<int64_t> settled_ids(new_ids.begin(), new_ids.begin() + static_cast<std::ptrdiff_t>(n_settled));
  settled_texts_[static_cast<size_t>(row_idx)] = tokenizer_->decode(settled_ids, /*skip_special=*/false);
  diverged_ = rows_diverged();
  return diverged_;
}

bool DivergenceStop::rows_diverged() const {
  if (settled_texts_.size() < 2) return false;
  const std::string& first = settled_texts_.front();
  size_t common = first.size();
  size_t shortest = first.size();
  for (const std::string& text : settled_texts_) {
    const auto mismatch = std::mismatch(first.begin(), first.begin() + static_cast<std::ptrdiff_t>(common),
                                        text.begin(), text.end());
    common = static_cast<size_t>(mismatch.first - first.begin());
    shortest = std::min(shortest, text.size());
  }
  return common < shortest;
}

}  // namespace abliterate::evaluate
