// print_responses: see include/abliterate/runner/response_log.hpp.
#include "abliterate/runner/response_log.hpp"

#include <fmt/format.h>

#include "abliterate/evaluate/refusal.hpp"

namespace abliterate::runner {

void print_responses(const std::vector<data::Prompt>& prompts, const std::vector<std::string>& responses,
                     const std::vector<std::string>& markers) {
  const evaluate::RefusalDetector detector(markers);
  for (size_t i = 0; i < responses.size() && i < prompts.size(); ++i) {
    fmt::print("[System prompt] {}\n[Prompt] {}\n[Response{}] {}\n\n", prompts[i].system, prompts[i].user,
               detector.is_refusal(responses[i]) ? ", refusal" : "",
               responses[i].empty() ? "[empty]" : responses[i]);
  }
}

}  // namespace abliterate::runner
