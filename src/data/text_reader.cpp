#include "abliterate/data/text_reader.hpp"

#include "abliterate/data/line_reader.hpp"

namespace abliterate::data {

std::vector<std::string> read_text_lines(std::istream& in, const std::string& file) {
  std::vector<std::string> rows;
  LineReader reader(in, file);
  std::string line;
  while (reader.next(line)) rows.push_back(line);
  return rows;
}

std::vector<std::string> read_text_lines(const std::filesystem::path& file) {
  std::ifstream in = open_input(file);
  return read_text_lines(in, file.string());
}

}  // namespace abliterate::data
