// Hugging Face `datasets` split syntax: "train", "train[:400]", "test[10:20]",
// "train[-5:]", "train[:10%]" (method spec §3.1). One split per string; HF's
// "a+b" concatenation and "(rounding)" suffix are not supported.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace abliterate::data {

// "train[:400]", "test[10:20]", "train[-5:]", "train[:10%]" -> name + bounds.
struct SplitSlice {
  std::string split;
  std::optional<int64_t> start;  // may be negative (from the end)
  std::optional<int64_t> stop;
  bool percent = false;  // bounds are percentages of the split's length

  friend bool operator==(const SplitSlice&, const SplitSlice&) = default;
};

// Parses NAME or NAME[start:stop], NAME being word characters with single dots
// between them (HF's split-name rule), start and stop optional integers, each
// optionally followed by '%'. As in HF, one '%' makes both bounds percentages.
// Throws InputError("split: expected NAME or NAME[start:stop], got \"...\"")
// on bad syntax, and InputError("split: ...") for a percentage outside
// [-100, 100].
SplitSlice parse_split(const std::string& text);

// Resolves the slice against a split of `n_rows` rows to absolute
// [begin, end), 0 <= begin <= end <= n_rows, the way Python slices a list:
// negative bounds count from the end, bounds past either end are clamped, and
// stop <= start gives an empty range. A percentage p becomes
// round(p * n_rows / 100.0) with Python's round (ties to even), as HF's
// default "closest" rounding does: 10% of 25 rows is round(2.5) = 2 rows,
// 10% of 35 rows is round(3.5) = 4.
std::pair<int64_t, int64_t> resolve_slice(const SplitSlice& slice, int64_t n_rows);

}  // namespace abliterate::data
