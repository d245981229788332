// Plain-text prompt files: one prompt per line (HF's "text" loader, which
// names the single column "text").
#pragma once

#include <filesystem>
#include <istream>
#include <string>
#include <vector>

namespace abliterate::data {

// Every non-blank line of the file, in order, without its line end. Blank
// (whitespace-only) lines are skipped; a UTF-8 byte-order mark and CRLF line
// ends are accepted; other whitespace is kept. Throws InputError
// "<file>:<line>: not valid UTF-8" and IoError when the file cannot be read.
std::vector<std::string> read_text_lines(const std::filesystem::path& file);

// The same from a stream; `file` is only used in messages.
std::vector<std::string> read_text_lines(std::istream& in, const std::string& file);

}  // namespace abliterate::data
