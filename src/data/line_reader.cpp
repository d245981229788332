#include "abliterate/data/line_reader.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <string_view>

#include "abliterate/common/error.hpp"
#include "abliterate/common/utf8.hpp"

namespace abliterate::data {

namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

bool is_blank(const std::string& s) { return s.find_first_not_of(" \t\r\n\f\v") == std::string::npos; }

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
