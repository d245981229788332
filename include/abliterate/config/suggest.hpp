// "Did you mean ...?" for names a user mistyped (DuckDB's
// CandidatesErrorMessage): the nearest candidate by edit distance, or none
// when nothing is close enough to help.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace abliterate::config {

// Edit distance counting insertions, deletions, substitutions and swaps of
// two neighbouring characters as one edit each (Damerau-Levenshtein, optimal
// string alignment variant), in bytes. Swaps are the commonest typo
// ("n_trails", "cdua").
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate nearest to `name`, or nullopt when even the nearest needs more
// edits than half of the longer of the two names (so "foo" suggests nothing,
// "n_trails" suggests "n_trials"). A name that reads as an abbreviation of a
// candidate (3+ characters, same first one, all of them in order: "bf16" in
// "bfloat16") is always close enough and wins over candidates that are not
// abbreviations. Ties go to the earlier candidate.
std::optional<std::string> nearest_name(std::string_view name, const std::vector<std::string>& candidates);

// " (did you mean "x"?)" or "" when nearest_name finds nothing.
std::string did_you_mean(std::string_view name, const std::vector<std::string>& candidates);

}  // namespace abliterate::config
