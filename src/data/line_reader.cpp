#include "abliterate/data/line_reader.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <string_view>

#include "abliterate/common/error.hpp"

namespace abliterate::data {

namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

bool is_blank(const std::string& s) { return s.find_first_not_of(" \t\r\n\f\v") == std::string::npos; }

// Well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates, <= U+10FFFF.
bool is_valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1Fu;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0Fu;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07u;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // truncated sequence
    for (std::size_t k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    constexpr uint32_t kMinForLength[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLength[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

}  // namespace

bool LineReader::next(std::string& line) {
  while (std::getline(in_, line)) {
    ++line_number_;
    if (line_number_ == 1 && line.starts_with(kUtf8Bom)) line.erase(0, kUtf8Bom.size());
    if (!line.empty() && line.back() == '\r') line.pop_back();
    ABL_CHECK(is_valid_utf8(line), InputError, "{}: not valid UTF-8", where());
    if (!is_blank(line)) return true;
  }
  ABL_CHECK(!in_.bad(), IoError, "{}: read failed after line {}", file_, line_number_);
  return false;
}

std::string LineReader::where() const { return fmt::format("{}:{}", file_, line_number_); }

std::ifstream open_input(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  ABL_CHECK(in, IoError, "{}: cannot open: {}", file.string(), std::strerror(errno));
  return in;
}

}  // namespace abliterate::data
