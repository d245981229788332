// See sbatch_line.hpp.
#include "abliterate/slurm/sbatch_line.hpp"

#include <fmt/format.h>

#include <string>
#include <string_view>

#include "abliterate/common/error.hpp"

namespace abliterate::slurm {
namespace {

// The characters of Slurm's own value syntaxes: 1-00:30:00, gpu,a100,
// node[01-04], 0-9%2, B:USR1@90, user@host, a/b. None is a blank, a quote, a
// backslash or a #, so sbatch reads the value as written.
bool is_sbatch_safe(char c) {
  constexpr std::string_view kPunctuation = "-_.,:=+/@%[]";
  const bool is_ascii_alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  return is_ascii_alnum || kPunctuation.find(c) != std::string_view::npos;
}

// What the refused character is, in words where it cannot be shown.
std::string describe(char c) {
  switch (c) {
    case '\n':
      return "a newline (it would end the #SBATCH line and start a line of its own)";
    case '\r':
      return "a carriage return";
    case '\t':
      return "a tab (sbatch splits the line at blanks)";
    case ' ':
      return "a space (sbatch splits the line at blanks)";
    case '#':
      return "'#' (sbatch reads the rest of the line as a comment)";
    case '\'':
      return "a single quote (sbatch reads it as a quote)";
    case '"':
      return "a double quote (sbatch reads it as a quote)";
    case '\\':
      return "'\\' (sbatch reads it as an escape)";
    default:
      break;
  }
  const auto u = static_cast<unsigned char>(c);
  if (u < 0x20 || u == 0x7f) return fmt::format("the control character 0x{:02x}", u);
  if (u >= 0x80) return fmt::format("the non-ASCII byte 0x{:02x}", u);
  return fmt::format("'{}'", c);
}

}  // namespace

std::string sbatch_line(std::string_view option, std::string_view value) {
  ABL_CHECK(!value.empty(), InputError, "--{}: the value is empty", option);
  for (size_t pos = 0; pos < value.size(); ++pos) {
    ABL_CHECK(is_sbatch_safe(value[pos]), InputError,
              "--{}: {:?} cannot go on an #SBATCH line: {} at position {}; values there are limited to "
              "letters, digits and - _ . , : = + / @ % [ ] (what Slurm's own time, name and list syntaxes use)",
              option, value, describe(value[pos]), pos + 1);
  }
  return fmt::format("#SBATCH --{}={}", option, value);
}

std::string sbatch_flag_line(std::string_view option) { return fmt::format("#SBATCH --{}", option); }

std::string sbatch_safe(std::string_view text) {
  std::string safe(text);
  for (char& c : safe) {
    if (!is_sbatch_safe(c)) c = '_';
  }
  return safe;
}

}  // namespace abliterate::slurm
