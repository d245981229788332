#include "abliterate/common/python_repr.hpp"

#include <fmt/format.h>

namespace abliterate {

std::string python_repr(std::string_view text) {
  // Python picks double quotes only when the text holds ' and no ".
  const bool has_single = text.find('\'') != std::string::npos;
  const bool has_double = text.find('"') != std::string::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == quote || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (byte < 0x20 || byte == 0x7f) {
      out += fmt::format("\\x{:02x}", byte);
    } else {
      out += c;  // printable ASCII and UTF-8 bytes, which Python prints as characters
    }
  }
  out += quote;
  return out;
}

}  // namespace abliterate
