// Our words for what valijson found wrong with a document (see json_schema.hpp):
// the key path, what the schema expects ("an integer >= 1"), the nearest valid
// key or value, x-hints, in document order. Internal to abl_config; with
// json_schema.cpp the only file that includes valijson.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "abliterate/config/json_schema.hpp"

namespace valijson {
class ValidationResults;
}

namespace abliterate::config {

// The violations of `instance` from valijson's `results` for it against
// `schema` (a document JsonSchema accepted), and what valijson has no rule
// for: .inf and .nan where the schema names a type.
std::vector<SchemaViolation> word_violations(const nlohmann::json& schema, const nlohmann::json& instance,
                                             const valijson::ValidationResults& results);

}  // namespace abliterate::config
