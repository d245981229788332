// YAML text -> JSON document, so that the job is checked against a JSON Schema
// and no YAML node travels past config (STYLE.md §2 config).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace abliterate::config {

// Parses the first YAML document in `text` into JSON. Plain (unquoted)
// scalars are typed by the YAML 1.2 core schema: null/Null/NULL/~ -> null,
// true/True/TRUE/false/... -> boolean, 12, 0x1f, 0o17 -> integer, 1.5, 1e-3,
// .inf, .nan -> number, anything else -> string ("yes", "on", "0.5.1" stay
// strings). Quoted and block scalars, and those tagged !!str, are always
// strings; !!int, !!float, !!bool and !!null force their type.
//
// Throws InputError "<display_name>:<line>:<col>: ..." (1-based) for a YAML
// syntax error, a duplicate key, a key that is not a scalar, an unsupported
// tag, a scalar that does not fit its tag, or nesting deeper than 32 levels
// (which also stops an alias that refers to its own ancestor).
nlohmann::json yaml_to_json(const std::string& text, const std::string& display_name);

}  // namespace abliterate::config
