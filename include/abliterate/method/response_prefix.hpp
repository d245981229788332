// The common response prefix (method spec §3.4, with Heretic v1.3.0's
// chain-of-thought re-check). Responses that all begin alike (a thinking
// block, "Sure," ...) would put the residual and KL position before the point
// where they diverge; the prefix is appended to every later prompt, so that
// position becomes "the first token after the common prefix".
//
// Pure string functions plus one driver that takes the generation as a
// callback, so that tests can feed hand-made responses.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "abliterate/config/job.hpp"

namespace abliterate::method {

// The longest common prefix of all responses, by characters (a UTF-8 sequence
// is never cut), with trailing ASCII spaces removed: a lone leading space would
// tokenize unusually (method spec §3.4 step 2). Empty for no responses.
std::string common_prefix(const std::vector<std::string>& responses);

// The first skip whose `start` begins `prefix`, or nullptr (method spec §3.4 step 3).
const config::ChainOfThoughtSkip* matching_skip(const std::string& prefix,
                                                const std::vector<config::ChainOfThoughtSkip>& skips);

// Greedy responses of the base model to the detection prompts with `prefix`
// appended to each rendered prompt: new tokens only, special tokens kept
// (method spec §3.3).
using PrefixProbe = std::function<std::vector<std::string>(const std::string& prefix)>;

// Detects the prefix: the common prefix of probe(""); when it starts with a
// skip's `start` it becomes that skip's `full`, and the common prefix of
// probe(full) is appended (v1.3.0's re-check, which catches e.g. a newline the
// closed block still needs). The probe runs once, or twice after a skip.
std::string detect_response_prefix(const PrefixProbe& probe, const std::vector<config::ChainOfThoughtSkip>& skips);

}  // namespace abliterate::method
