#include "abliterate/data/jsonl_reader.hpp"

#include <nlohmann/json.hpp>

#include "abliterate/common/error.hpp"
#include "abliterate/data/line_reader.hpp"

namespace abliterate::data {

namespace {

constexpr std::size_t kMaxShownValue = 60;

std::string shown(const nlohmann::json& value) {
  std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > kMaxShownValue) text = text.substr(0, kMaxShownValue) + "...";
  return text;
}

}  // namespace

std::vector<std::string> read_jsonl_column(std::istream& in, const std::string& file, const std::string& column) {
  std::vector<std::string> rows;
  LineReader reader(in, file);
  std::string line;
  while (reader.next(line)) {
    nlohmann::json row;
    try {
      row = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      // e.byte is the 1-based offset in the line where parsing stopped.
      throw InputError(fmt::format("{}: not valid JSON (at column {})", reader.where(), e.byte));
    }
    ABL_CHECK(row.is_object(), InputError, "{}: expected a JSON object, got {}", reader.where(), shown(row));
    const auto field = row.find(column);
    ABL_CHECK(field != row.end(), InputError, "{}: missing field \"{}\"", reader.where(), column);
    ABL_CHECK(field->is_string(), InputError, "{}: field \"{}\": expected a string, got {}", reader.where(), column,
              shown(*field));
    rows.push_back(field->get<std::string>());
  }
  return rows;
}

std::vector<std::string> read_jsonl_column(const std::filesystem::path& file, const std::string& column) {
  std::ifstream in = open_input(file);
  return read_jsonl_column(in, file.string(), column);
}

}  // namespace abliterate::data
