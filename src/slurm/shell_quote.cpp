// See shell_quote.hpp.
#include "abliterate/slurm/shell_quote.hpp"

#include "abliterate/common/error.hpp"

namespace abliterate::slurm {

std::string shell_quote(std::string_view value) {
  ABL_CHECK(value.find('\0') == std::string_view::npos, InputError,
            "a NUL byte cannot be passed in a shell command line (in \"{}\")", std::string(value.substr(0, 60)));
  std::string quoted = "'";
  for (const char c : value) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  quoted += '\'';
  return quoted;
}

}  // namespace abliterate::slurm
