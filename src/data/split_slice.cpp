#include "abliterate/data/split_slice.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string_view>

#include "abliterate/common/error.hpp"

namespace abliterate::data {

namespace {

// HF's arrow_reader.py refuses a percentage whose magnitude exceeds 100.
constexpr int64_t kMaxPercent = 100;

bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

[[noreturn]] void throw_syntax(const std::string& text) {
  throw InputError(fmt::format("split: expected NAME or NAME[start:stop], got \"{}\"", text));
}

// Reads an optional bound "-?[0-9]+%?" at `pos`; advances `pos` past it.
std::optional<int64_t> read_bound(const std::string& text, std::size_t& pos, bool& percent) {
  const std::size_t begin = pos;
  if (pos < text.size() && text[pos] == '-') ++pos;
  const std::size_t digits = pos;
  while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
  if (pos == digits) {
    if (pos != begin) throw_syntax(text);  // a lone '-'
    return std::nullopt;
  }
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data() + begin, text.data() + pos, value);
  if (ec != std::errc() || end != text.data() + pos) throw_syntax(text);  // too large for 64 bits
  if (pos < text.size() && text[pos] == '%') {
    percent = true;
    ++pos;
  }
  return value;
}

// Python's round() of a double to an integer: ties go to the even neighbour.
int64_t round_half_even(double x) {
  const double floor = std::floor(x);
  const double fraction = x - floor;
  double rounded = floor;
  if (fraction > 0.5 || (fraction == 0.5 && std::fmod(floor, 2.0) != 0.0)) rounded = floor + 1.0;
  return static_cast<int64_t>(rounded);
}

}  // namespace

SplitSlice parse_split(const std::string& text) {
  SplitSlice slice;
  std::size_t pos = 0;
  // NAME: word characters, with single dots between runs of them.
  while (true) {
    const std::size_t run = pos;
    while (pos < text.size() && is_word_char(text[pos])) ++pos;
    if (pos == run) throw_syntax(text);
    if (pos < text.size() && text[pos] == '.') {
      ++pos;
      continue;
    }
    break;
  }
  slice.split = text.substr(0, pos);
  if (pos == text.size()) return slice;

  if (text[pos] != '[') throw_syntax(text);
  ++pos;
  slice.start = read_bound(text, pos, slice.percent);
  if (pos >= text.size() || text[pos] != ':') throw_syntax(text);
  ++pos;
  slice.stop = read_bound(text, pos, slice.percent);
  if (pos >= text.size() || text[pos] != ']' || pos + 1 != text.size()) throw_syntax(text);

  if (slice.percent) {
    for (const auto& bound : {slice.start, slice.stop}) {
      ABL_CHECK(!bound || std::abs(*bound) <= kMaxPercent, InputError,
                "split: a percentage must lie in [-100, 100], got \"{}\"", text);
    }
  }
  return slice;
}

std::pair<int64_t, int64_t> resolve_slice(const SplitSlice& slice, int64_t n_rows) {
  ABL_ASSERT(n_rows >= 0, "n_rows = {}", n_rows);
  const auto absolute = [&](int64_t bound) {
    // HF's "closest" rounding: int(round(bound * n / 100.0)).
    return slice.percent ? round_half_even(static_cast<double>(bound * n_rows) / 100.0) : bound;
  };
  int64_t begin = slice.start ? absolute(*slice.start) : 0;
  int64_t end = slice.stop ? absolute(*slice.stop) : n_rows;
  if (begin < 0) begin = std::max<int64_t>(n_rows + begin, 0);
  if (end < 0) end = std::max<int64_t>(n_rows + end, 0);
  begin = std::min(begin, n_rows);
  end = std::clamp(end, begin, n_rows);
  return {begin, end};
}

}  // namespace abliterate::data
