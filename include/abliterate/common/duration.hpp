// Durations as Heretic prints them (method spec §7.3): "Xh Ym", "Xm Ys", "Xs".
#pragma once

#include <string>

namespace abliterate {

std::string format_duration(double seconds);

}  // namespace abliterate
