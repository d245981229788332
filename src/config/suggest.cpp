#include "abliterate/config/suggest.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>
#include <utility>

namespace abliterate::config {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  // Three rows of the DP table: d[i][j] = distance(a[0, i), b[0, j)).
  std::vector<std::size_t> before(b.size() + 1);  // row i-2
  std::vector<std::size_t> above(b.size() + 1);   // row i-1
  std::vector<std::size_t> row(b.size() + 1);     // row i
  std::iota(above.begin(), above.end(), std::size_t{0});
  for (std::size_t i = 1; i <= a.size(); ++i) {
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      row[j] = std::min({above[j] + 1, row[j - 1] + 1, above[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        row[j] = std::min(row[j], before[j - 2] + 1);  // swapped neighbours: one typo
      }
    }
    std::swap(before, above);
    std::swap(above, row);
  }
  return above[b.size()];
}

namespace {

// True when `name` reads as an abbreviation of `candidate`: at least three
// characters, the same first one, and every one of them in `candidate` in order.
bool is_abbreviation_of(std::string_view name, std::string_view candidate) {
  constexpr std::size_t kMinAbbreviation = 3;  // shorter ones match too much
  if (name.size() < kMinAbbreviation || candidate.empty() || name[0] != candidate[0]) return false;
  std::string_view needle = name;
  std::string_view hay = candidate;
  std::size_t pos = 0;
  for (char c : hay) {
    if (pos < needle.size() && needle[pos] == c) ++pos;
  }
  return pos == needle.size();
}

}  // namespace

std::optional<std::string> nearest_name(std::string_view name, const std::vector<std::string>& candidates) {
  const std::string* best = nullptr;
  std::size_t best_distance = 0;
  bool best_is_abbreviation = false;
  for (const std::string& candidate : candidates) {
    const std::size_t distance = edit_distance(name, candidate);
    const bool is_abbreviation = is_abbreviation_of(name, candidate);
    const bool better = best == nullptr || (is_abbreviation && !best_is_abbreviation) ||
                        (is_abbreviation == best_is_abbreviation && distance < best_distance);
    if (better) {
      best = &candidate;
      best_distance = distance;
      best_is_abbreviation = is_abbreviation;
    }
  }
  if (best == nullptr) return std::nullopt;
  const std::size_t longer = std::max(name.size(), best->size());
  if (!best_is_abbreviation && best_distance * 2 > longer) return std::nullopt;
  return *best;
}

std::string did_you_mean(std::string_view name, const std::vector<std::string>& candidates) {
  const auto nearest = nearest_name(name, candidates);
  return nearest ? fmt::format(" (did you mean \"{}\"?)", *nearest) : std::string();
}

}  // namespace abliterate::config
