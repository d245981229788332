// JSONL prompt files: one JSON object per line, the prompt in one string field
// (`{"text": "..."}` by default), as HF `datasets` reads a local .jsonl split.
#pragma once

#include <filesystem>
#include <istream>
#include <string>
#include <vector>

namespace abliterate::data {

// The string field `column` of every object in the JSONL file, in file order.
// Blank (whitespace-only) lines are skipped; a UTF-8 byte-order mark and CRLF
// line ends are accepted. No row is dropped silently: throws InputError
//   "<file>:<line>: not valid JSON (at column <n>)",
//   "<file>:<line>: expected a JSON object, got <value>",
//   "<file>:<line>: missing field \"<column>\"",
//   "<file>:<line>: field \"<column>\": expected a string, got <value>"
// with 1-based line numbers, and IoError when the file cannot be read.
std::vector<std::string> read_jsonl_column(const std::filesystem::path& file, const std::string& column);

// The same from a stream; `file` is only used in messages.
std::vector<std::string> read_jsonl_column(std::istream& in, const std::string& file, const std::string& column);

}  // namespace abliterate::data
