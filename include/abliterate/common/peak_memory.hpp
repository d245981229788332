// This process's peak resident memory, for the per-worker memory report.
#pragma once

#include <cstdint>
#include <string>

namespace abliterate {

// The largest resident set this process has had, in bytes (getrusage's
// ru_maxrss); 0 when the system does not say.
int64_t peak_rss_bytes();

// "612 MiB", "1.4 GiB".
std::string format_bytes(int64_t bytes);

}  // namespace abliterate
