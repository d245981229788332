// `abliterate convert-config config.toml > job.yaml` (method spec §2).
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "abliterate/cli/commands.hpp"
#include "abliterate/common/error.hpp"
#include "abliterate/config/heretic_config.hpp"
#include "abliterate/config/job_keys.hpp"
#include "abliterate/config/job_loader.hpp"

namespace abliterate::cli {

int convert_config_command(const ConvertConfigArgs& args) {
  std::ifstream in(args.toml_path, std::ios::binary);
  ABL_CHECK(in, IoError, "{}: cannot open: {}", args.toml_path, std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  config::ConvertedConfig converted = config::convert_heretic_config(text.str(), args.toml_path);
  const char* model_key = config::key_name(config::JobKey::model);
  if (args.model) converted.job[model_key] = *args.model;
  // Heretic usually takes the model from its command line (spec §1 step 2).
  ABL_CHECK(converted.job.contains(model_key), InputError,
            "{}: model: not set; pass --model PATH (Heretic takes it from its command line)", args.toml_path);
  const std::string yaml = config::job_to_yaml(converted);
  // The result must load as a job: an unknown or ill-typed key is reported
  // now, against the TOML file, with the schema's message.
  config::parse_job(yaml, args.toml_path);
  fmt::print("{}", yaml);
  return 0;
}

}  // namespace abliterate::cli
