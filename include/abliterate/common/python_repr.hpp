// Python's repr() of a str, for messages that quote text as Heretic prints it
// and for Jinja's string rendering of containers (HF renders with Python).
#pragma once

#include <string>
#include <string_view>

namespace abliterate {

// Single quotes unless the text holds ' and no "; \n, \r, \t, other control
// bytes as \xNN; UTF-8 bytes pass through, as Python prints the characters.
std::string python_repr(std::string_view text);

}  // namespace abliterate
