// A parsed chat template, rendered the way transformers renders it: jinja2's
// ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True) with
// HF's tojson and raise_exception (spec/model-runtime.md §2-3).
//
// Supported: text, {{ }}, {% %}, {# #}, whitespace control, for (loop.*,
// `if` filter, else, tuple targets), if/elif/else, set (incl. ns.attr and
// block form), namespace(), range(), raise_exception(), strftime_now(), the
// expression grammar, and the filters/tests/methods listed in builtins.hpp.
// Not supported: macro, call, include/import/extends, raw, recursive loops.
// Tuples are lists (they print as [a, b], not (a, b)).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "abliterate/chat/jinja/ast.hpp"
#include "abliterate/chat/jinja/value.hpp"

namespace abliterate::chat::jinja {

class Template {
 public:
  // Throws FormatError ("chat template: line N: ...") on a syntax error.
  explicit Template(std::string_view source);

  // The rendered text with `variables` as globals. Throws InputError on a
  // runtime error (undefined operand, wrong type, raise_exception(message):
  // the message is the raised one, after "chat template: ").
  std::string render(const Map& variables) const;

 private:
  // Shared so that copies of a Template (and of ChatTemplate) stay cheap.
  std::shared_ptr<const std::vector<Node>> nodes_;
};

}  // namespace abliterate::chat::jinja
