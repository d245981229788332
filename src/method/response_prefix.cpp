// The common response prefix (method spec §3.4).
#include "abliterate/method/response_prefix.hpp"

#include <algorithm>

namespace abliterate::method {
namespace {

bool is_utf8_continuation(char byte) { return (static_cast<unsigned char>(byte) & 0xC0) == 0x80; }

}  // namespace

std::string common_prefix(const std::vector<std::string>& responses) {
  if (responses.empty()) return "";
  size_t length = responses.front().size();
  for (const std::string& response : responses) {
    const auto mismatch = std::mismatch(responses.front().begin(),
                                        responses.front().begin() + static_cast<std::ptrdiff_t>(length),
                                        response.begin(), response.end());
    length = static_cast<size_t>(mismatch.first - responses.front().begin());
  }
  std::string prefix = responses.front().substr(0, length);
  // Python compares code points: two responses that differ inside a UTF-8
  // sequence share only the characters before it. A prefix that ends before
  // a continuation byte of the first response ends inside a character.
  const std::string& first = responses.front();
  while (!prefix.empty() && length < first.size() && is_utf8_continuation(first[length])) {
    prefix.pop_back();
    --length;
  }
  // rstrip(" "): ASCII spaces only, not other whitespace.
  while (!prefix.empty() && prefix.back() == ' ') prefix.pop_back();
  return prefix;
}

const config::ChainOfThoughtSkip* matching_skip(const std::string& prefix,
                                                const std::vector<config::ChainOfThoughtSkip>& skips) {
  for (const config::ChainOfThoughtSkip& skip : skips) {
    if (prefix.starts_with(skip.start)) return &skip;
  }
  return nullptr;
}

std::string detect_response_prefix(const PrefixProbe& probe, const std::vector<config::ChainOfThoughtSkip>& skips) {
  std::string prefix = common_prefix(probe(""));
  if (const config::ChainOfThoughtSkip* skip = matching_skip(prefix, skips)) {
    // The closed block replaces whatever the model began to think; the
    // responses after it may share more (Heretic v1.3.0's re-check).
    prefix = skip->full;
    prefix += common_prefix(probe(prefix));
  }
  return prefix;
}

}  // namespace abliterate::method
