// Numbers given on the command line or at the chat prompt (src/cli only):
// nullopt unless the whole text is the number, so "12x", "" and "1e" are
// refused rather than read as 12, 0 or 1.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace abliterate::cli {

std::optional<int64_t> parse_whole_integer(const std::string& text);
// Finite values only ("inf" and "nan" give nullopt).
std::optional<double> parse_whole_decimal(const std::string& text);

}  // namespace abliterate::cli
