// Prompts and responses printed as Heretic's print_responses prints them while
// counting refusals (method spec §6.2): system prompt, prompt, response, and
// whether it counts as a refusal. Used by `evaluate` and by trials.
#pragma once

#include <string>
#include <vector>

#include "abliterate/data/prompt_set.hpp"

namespace abliterate::runner {

// Prints each (prompt, response) pair in order, marking refusals by `markers`.
void print_responses(const std::vector<data::Prompt>& prompts, const std::vector<std::string>& responses,
                     const std::vector<std::string>& markers);

}  // namespace abliterate::runner
