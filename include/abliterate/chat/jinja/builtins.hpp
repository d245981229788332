// Filters, tests and methods of the Jinja subset (spec/model-runtime.md §2-3),
// with jinja2 3.1 / Python semantics. Each throws InputError with the bare
// problem; the interpreter adds "chat template: line N: ".
//
// Filters: trim, tojson(indent=), length/count, lower, upper, title,
// capitalize, replace, default/d, join, first, last, list, string, int, float,
// abs, items, selectattr/rejectattr, map(attribute=)/map(filter), safe, e,
// striptags (simple), reverse, unique, sort (no key), wordcount.
// Tests: defined, undefined, none, string, number, integer, float, iterable,
// mapping, sequence, boolean, true, false, even, odd, divisibleby,
// eq/equalto/==, ne/!=, lt, gt, le, ge, in, sameas.
// Methods: str strip/lstrip/rstrip/split/startswith/endswith/upper/lower/
// replace/title/capitalize/find/count/join/format-free; dict items/keys/
// values/get; list index/count.
#pragma once

#include <string>
#include <vector>

#include "abliterate/chat/jinja/value.hpp"

namespace abliterate::chat::jinja {

Value apply_filter(const std::string& name, const Value& input, const std::vector<Value>& args, const Map& kwargs);
bool apply_test(const std::string& name, const Value& input, const std::vector<Value>& args);
Value call_method(const Value& object, const std::string& name, const std::vector<Value>& args, const Map& kwargs);

// Errors the interpreter and builtins share.
[[noreturn]] void throw_undefined(const Value& value);
// Python's `a < b` for numbers and strings; throws InputError otherwise.
bool python_less(const Value& a, const Value& b);
// What `for x in value` iterates over: list items, dict keys, string characters.
List iterate(const Value& value);

}  // namespace abliterate::chat::jinja
