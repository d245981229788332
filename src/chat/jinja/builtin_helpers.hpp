// Argument and ASCII text helpers shared by the Jinja filters (filters.cpp)
// and the tests and methods (builtins.cpp). Private to src/chat/jinja.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "abliterate/chat/jinja/value.hpp"

namespace abliterate::chat::jinja::detail {

// Keyword argument `key`, or nullptr.
const Value* kwarg(const Map& kwargs, std::string_view key);
// Positional argument `index`, else keyword `key`, else nullptr.
const Value* argument(const std::vector<Value>& args, const Map& kwargs, size_t index, std::string_view key);
const std::string& require_string(const Value& value, std::string_view what);
std::string ascii_lower(std::string text);
std::string ascii_upper(std::string text);
// Python's str.title(): a letter after a non-letter is upper-cased, others lower.
std::string ascii_title(std::string text);
std::string replace_all(const std::string& text, const std::string& old_text, const std::string& new_text,
                        int64_t count);

}  // namespace abliterate::chat::jinja::detail
