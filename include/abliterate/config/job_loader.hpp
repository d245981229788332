// Reading a job file: YAML -> JSON -> schema check -> typed Job.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "abliterate/config/job.hpp"

namespace abliterate::config {

// Reads, validates and types the job at `path`. Throws InputError naming the
// file and the key path ("jobs/x.yaml: n_trials: expected an integer >= 1,
// got -3") for a missing file, bad YAML, an unknown key (with the nearest
// valid key), a wrong type or an out-of-range value.
Job load_job(const std::filesystem::path& path);

// The same from YAML text; `display_name` names the file in messages and
// becomes the source_path that relative inputs resolve against.
Job parse_job(const std::string& yaml_text, const std::filesystem::path& display_name);

// A job's document (YAML already turned into JSON, keys possibly set by a
// sweep) checked against the schema and typed; `label` names it in messages.
Job job_from_document(const nlohmann::json& document, const std::filesystem::path& source_path,
                      const std::string& label);

// The text of a job file (or of any YAML file given as one). Throws
// InputError for a missing file or a folder, IoError when unreadable.
std::string read_job_text(const std::filesystem::path& path);

// The job's settings as JSON, as the store keeps them (study attribute
// `settings`) and as workers receive them.
nlohmann::json job_to_json(const Job& job);
Job job_from_json(const nlohmann::json& settings, const std::filesystem::path& source_path);

// Path of schemas/job.schema.json (compiled in; overridable with
// ABLITERATE_SCHEMA_DIR for an installed copy).
std::filesystem::path job_schema_path();

}  // namespace abliterate::config
