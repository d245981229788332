// See batch_template.hpp; batch_script_template() is generated (batch_template.cpp.in).
#include "batch_template.hpp"

#include <set>

#include "abliterate/common/error.hpp"

namespace abliterate::slurm {
namespace {

bool is_placeholder_char(char c) { return (c >= 'A' && c <= 'Z') || c == '_'; }

}  // namespace

std::string fill_placeholders(std::string_view text, const std::map<std::string, std::string>& values) {
  std::string filled;
  std::set<std::string> used;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t at = text.find('@', pos);
    if (at == std::string_view::npos) break;
    size_t end = at + 1;
    while (end < text.size() && is_placeholder_char(text[end])) ++end;
    if (end == at + 1 || end >= text.size() || text[end] != '@') {
      // A lone '@' (an e-mail address, USR1@90) is text.
      filled.append(text.substr(pos, at + 1 - pos));
      pos = at + 1;
      continue;
    }
    const std::string name(text.substr(at + 1, end - at - 1));
    const auto value = values.find(name);
    ABL_ASSERT(value != values.end(), "the batch script template names @{}@, which nothing fills in", name);
    filled.append(text.substr(pos, at - pos));
    filled.append(value->second);
    used.insert(name);
    pos = end + 1;
  }
  filled.append(text.substr(std::min(pos, text.size())));
  for (const auto& [name, value] : values) {
    ABL_ASSERT(used.count(name) == 1, "the batch script template has no @{}@ placeholder", name);
  }
  return filled;
}

}  // namespace abliterate::slurm
