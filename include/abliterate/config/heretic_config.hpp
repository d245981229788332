// Heretic's config.toml -> an abliterate job (`abliterate convert-config`).
// Every setting of Heretic v1.2.0 (method spec §2) has a job key of the same
// name and default, so most keys pass through unchanged; the few values this
// program cannot honour are left out with a note saying why.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace abliterate::config {

struct ConvertedConfig {
  nlohmann::json job = nlohmann::json::object();  // job keys (alphabetical, as nlohmann::json keeps them)
  std::vector<std::string> notes;                 // one line per value left out or changed
};

// Parses Heretic's TOML. Throws InputError naming `file` with line and column
// on a TOML syntax error, and for a value TOML has but a job cannot hold (a
// date or time). Keys are not checked here: the job schema does that, so an
// unknown key is reported with its nearest valid spelling.
ConvertedConfig convert_heretic_config(const std::string& toml_text, const std::string& file);

// The job as YAML text: notes as leading comments, strings double-quoted,
// numbers in their shortest exact form (1.0 stays a float).
std::string job_to_yaml(const ConvertedConfig& converted);

}  // namespace abliterate::config
