// Parsing a chat template's tokens into statements (spec/model-runtime.md §2).
#pragma once

#include <string_view>
#include <vector>

#include "abliterate/chat/jinja/ast.hpp"

namespace abliterate::chat::jinja {

// The statements of `source`. Throws FormatError naming the line on a syntax
// error or a tag outside the supported subset (macro, call, raw, ...).
std::vector<Node> parse_template(std::string_view source);

}  // namespace abliterate::chat::jinja
