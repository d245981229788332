#include "abliterate/common/duration.hpp"

#include <cmath>

#include <fmt/format.h>

namespace abliterate {

std::string format_duration(double seconds) {
  const long total = std::lround(std::max(0.0, seconds));
  const long hours = total / 3600;
  const long minutes = (total % 3600) / 60;
  const long secs = total % 60;
  if (hours > 0) return fmt::format("{}h {}m", hours, minutes);
  if (minutes > 0) return fmt::format("{}m {}s", minutes, secs);
  return fmt::format("{}s", secs);
}

}  // namespace abliterate
