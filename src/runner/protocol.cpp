#include "abliterate/runner/protocol.hpp"

#include "abliterate/config/job_loader.hpp"

namespace abliterate::runner {

void describe(mpi::WireWriter& a, SetupTask& m) {
  a(config::job_to_json(m.job).dump(), m.job.source_path.string(), m.batch_size_prompts);
}

void describe(mpi::WireReader& a, SetupTask& m) {
  std::string settings;
  std::string source_path;
  a(settings, source_path, m.batch_size_prompts);
  const nlohmann::json parsed = nlohmann::json::parse(settings, nullptr, /*allow_exceptions=*/false);
  ABL_CHECK(!parsed.is_discarded(), FormatError, "setup message: the job's settings are not JSON");
  m.job = config::job_from_json(parsed, source_path);
}

void describe(mpi::WireWriter& a, Failure& m) {
  a(std::string(to_string(m.kind)), m.reason, m.trial_id);
}

void describe(mpi::WireReader& a, Failure& m) {
  std::string kind;
  a(kind, m.reason, m.trial_id);
  m.kind = error_kind_from_string(kind).value_or(ErrorKind::internal);
}

void rethrow_failure(const Failure& failure, const std::string& context) {
  throw_error(failure.kind, fmt::format("{}: {}", context, failure.reason));
}

}  // namespace abliterate::runner
