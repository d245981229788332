// Reading the JSON files of a model folder (config.json, tokenizer.json,
// tokenizer_config.json, generation_config.json) with errors that name the file.
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace abliterate::formats {

// The whole file as text. Throws IoError naming `path` when it cannot be read.
std::string read_text_file(const std::filesystem::path& path);

// The parsed file. Throws IoError (missing, unreadable) or FormatError (not
// JSON; the message carries the parser's byte position).
nlohmann::json read_json_file(const std::filesystem::path& path);

// `text` parsed; FormatError "<name>: not valid JSON: ..." as read_json_file.
nlohmann::json parse_json_text(const std::string& text, const std::string& name);

}  // namespace abliterate::formats
