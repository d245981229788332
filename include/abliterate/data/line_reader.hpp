// Line-by-line reading shared by the JSONL and text readers: numbered lines,
// BOM and CR stripped, blank lines skipped, bad UTF-8 reported.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <istream>
#include <string>

namespace abliterate::data {

// Reads `in` one line at a time. Not copyable; borrows `in`, which must
// outlive it.
class LineReader {
 public:
  LineReader(std::istream& in, std::string file) : in_(in), file_(std::move(file)) {}
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // The next non-blank line, without its line end (and without a BOM on line
  // 1). Returns false at the end. Throws InputError "<file>:<line>: not valid
  // UTF-8" and IoError on a read failure.
  bool next(std::string& line);

  // 1-based number of the line next() returned last.
  int64_t line_number() const { return line_number_; }

  // "<file>:<line>" for messages.
  std::string where() const;

 private:
  std::istream& in_;
  std::string file_;
  int64_t line_number_ = 0;
};

// Opens `file` for reading; throws IoError "<file>: cannot open: <reason>".
std::ifstream open_input(const std::filesystem::path& file);

}  // namespace abliterate::data
