// Enum spellings of the store (spec/optuna-compat.md §3.3).
#include "abliterate/study/store_schema.hpp"

#include <fmt/format.h>

#include "abliterate/common/error.hpp"

namespace abliterate::study {

const char* to_string(Direction d) {
  switch (d) {
    case Direction::MINIMIZE:
      return "MINIMIZE";
    case Direction::MAXIMIZE:
      return "MAXIMIZE";
  }
  ABL_ASSERT(false, "unknown Direction {}", static_cast<int>(d));
  return "";
}

Direction direction_from_string(const std::string& s) {
  if (s == "MINIMIZE") return Direction::MINIMIZE;
  if (s == "MAXIMIZE") return Direction::MAXIMIZE;
  throw FormatError(fmt::format("study direction: expected MINIMIZE or MAXIMIZE, got \"{}\"", s));
}

}  // namespace abliterate::study
