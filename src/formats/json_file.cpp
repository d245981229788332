// read_text_file / read_json_file: see include/abliterate/formats/json_file.hpp.
#include "abliterate/formats/json_file.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "abliterate/common/error.hpp"

namespace abliterate::formats {

std::string read_text_file(const std::filesystem::path& path) {
  std::error_code ec;
  ABL_CHECK(std::filesystem::is_regular_file(path, ec), IoError, "{}: no such file", path.string());
  std::ifstream in(path, std::ios::binary);
  ABL_CHECK(in.good(), IoError, "{}: cannot open: {}", path.string(), std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  ABL_CHECK(!in.bad(), IoError, "{}: read failed", path.string());
  return text.str();
}

nlohmann::json read_json_file(const std::filesystem::path& path) {
  return parse_json_text(read_text_file(path), path.string());
}

nlohmann::json parse_json_text(const std::string& text, const std::string& name) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(fmt::format("{}: not valid JSON: {}", name, e.what()));
  }
}

}  // namespace abliterate::formats
