// The Jinja filters: see include/abliterate/chat/jinja/builtins.hpp. One
// function per filter and one table of their names (kFilters), with jinja2
// 3.1's filters.py semantics; case mapping covers ASCII only.
#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <string_view>

#include "abliterate/chat/jinja/builtins.hpp"
#include "abliterate/common/error.hpp"
#include "builtin_helpers.hpp"

namespace abliterate::chat::jinja {

using namespace detail;  // NOLINT: the helpers of builtin_helpers.hpp

namespace {

Value length_of(const Value& value) {
  if (value.is_undefined()) return Value(0);
  if (value.is_string()) return Value(static_cast<int64_t>(utf8_characters(value.as_string()).size()));
  if (value.is_list()) return Value(static_cast<int64_t>(value.as_list().size()));
  if (value.is_map()) return Value(static_cast<int64_t>(value.as_map().size()));
  throw InputError(fmt::format("object of type '{}' has no len()", value.type_name()));
}

// jinja2's environment.getattr for `attribute=` arguments: dotted paths,
// integer parts index lists.
Value attribute_of(const Value& item, const std::string& path) {
  Value current = item;
  size_t pos = 0;
  while (true) {
    const size_t dot = path.find('.', pos);
    const std::string part = path.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
    if (current.is_map()) {
      const Value* found = current.find(part);
      current = found != nullptr ? *found : Value(Undefined{part});
    } else if (current.is_list() && !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit)) {
      const size_t index = std::stoul(part);
      current = index < current.as_list().size() ? current.as_list()[index] : Value(Undefined{part});
    } else {
      current = Value(Undefined{part});
    }
    if (dot == std::string::npos) return current;
    pos = dot + 1;
  }
}

Value select_attribute(const Value& input, const std::vector<Value>& args, bool select) {
  if (args.empty()) throw InputError("selectattr/rejectattr: missing attribute name");
  const std::string& attribute = require_string(args[0], "selectattr attribute");
  List out;
  for (const Value& item : iterate(input)) {
    const Value field = attribute_of(item, attribute);
    const bool passes = args.size() < 2
                            ? field.truthy()
                            : apply_test(require_string(args[1], "selectattr test"), field,
                                         std::vector<Value>(args.begin() + 2, args.end()));
    if (passes == select) out.push_back(item);
  }
  return Value(std::move(out));
}

std::string strip_tags(const std::string& text) {
  std::string out;
  bool in_tag = false;
  for (const char c : text) {
    if (c == '<') in_tag = true;
    else if (c == '>' && in_tag) in_tag = false;
    else if (!in_tag) out += c;
  }
  // jinja2 then collapses whitespace runs: " ".join(text.split()).
  std::string joined;
  for (const auto& word : python_split_whitespace(out)) {
    if (!joined.empty()) joined += ' ';
    joined += word;
  }
  return joined;
}

// One filter call: the piped value, and for jinja2's string filters its str()
// (empty for the others), with the call's arguments.
struct FilterCall {
  const Value& input;
  const std::string& text;
  const std::vector<Value>& args;
  const Map& kwargs;
};

Value filter_default(const FilterCall& call) {
  const Value* fallback = argument(call.args, call.kwargs, 0, "default_value");
  const Value* boolean = argument(call.args, call.kwargs, 1, "boolean");
  const bool use_fallback =
      call.input.is_undefined() || (boolean != nullptr && boolean->truthy() && !call.input.truthy());
  return use_fallback ? (fallback != nullptr ? *fallback : Value(std::string())) : call.input;
}

Value filter_safe(const FilterCall& call) { return call.input; }

Value filter_escape(const FilterCall&) { throw InputError("the escape filter is not supported"); }

Value filter_length(const FilterCall& call) { return length_of(call.input); }

Value filter_tojson(const FilterCall& call) {
  const Value* indent = argument(call.args, call.kwargs, 0, "indent");
  return Value(call.input.to_json(indent != nullptr && indent->is_int() ? static_cast<int>(indent->as_int()) : -1));
}

Value filter_string(const FilterCall& call) { return Value(call.input.str()); }

Value filter_list(const FilterCall& call) { return Value(iterate(call.input)); }

Value filter_first(const FilterCall& call) {
  const List items = iterate(call.input);
  if (items.empty()) return Value(Undefined{"first/last of an empty sequence"});
  return items.front();
}

Value filter_last(const FilterCall& call) {
  const List items = iterate(call.input);
  if (items.empty()) return Value(Undefined{"first/last of an empty sequence"});
  return items.back();
}

Value filter_items(const FilterCall& call) {
  if (call.input.is_undefined()) return Value(List{});
  if (!call.input.is_map()) throw InputError(fmt::format("items: expected a mapping, got {}", call.input.type_name()));
  List items;
  for (const auto& [key, value] : call.input.as_map()) items.emplace_back(List{Value(key), value});
  return Value(std::move(items));
}

Value filter_join(const FilterCall& call) {
  const Value* separator = argument(call.args, call.kwargs, 0, "d");
  const Value* attribute = argument(call.args, call.kwargs, 1, "attribute");
  std::string out;
  bool first = true;
  for (const Value& item : iterate(call.input)) {
    if (!first && separator != nullptr) out += separator->str();
    first = false;
    out += attribute != nullptr ? attribute_of(item, attribute->str()).str() : item.str();
  }
  return Value(std::move(out));
}

Value filter_selectattr(const FilterCall& call) { return select_attribute(call.input, call.args, true); }

Value filter_rejectattr(const FilterCall& call) { return select_attribute(call.input, call.args, false); }

Value filter_map(const FilterCall& call) {
  List out;
  const Value* attribute = kwarg(call.kwargs, "attribute");
  for (const Value& item : iterate(call.input)) {
    if (attribute != nullptr) {
      Value field = attribute_of(item, attribute->str());
      const Value* fallback = kwarg(call.kwargs, "default");
      out.push_back(field.is_undefined() && fallback != nullptr ? *fallback : field);
    } else if (!call.args.empty()) {
      out.push_back(apply_filter(require_string(call.args[0], "map filter name"), item,
                                 std::vector<Value>(call.args.begin() + 1, call.args.end()), {}));
    } else {
      throw InputError("map: expected attribute= or a filter name");
    }
  }
  return Value(std::move(out));
}

Value filter_reverse(const FilterCall& call) {
  if (call.input.is_string()) {
    auto chars = utf8_characters(call.input.as_string());
    std::string out;
    for (auto it = chars.rbegin(); it != chars.rend(); ++it) out += *it;
    return Value(std::move(out));
  }
  List items = iterate(call.input);
  std::reverse(items.begin(), items.end());
  return Value(std::move(items));
}

Value filter_unique(const FilterCall& call) {
  List out;
  for (const Value& item : iterate(call.input))
    if (std::find(out.begin(), out.end(), item) == out.end()) out.push_back(item);
  return Value(std::move(out));
}

Value filter_sort(const FilterCall& call) {
  List items = iterate(call.input);
  std::stable_sort(items.begin(), items.end(), python_less);
  const Value* reverse = argument(call.args, call.kwargs, 0, "reverse");
  if (reverse != nullptr && reverse->truthy()) std::reverse(items.begin(), items.end());
  return Value(std::move(items));
}

Value filter_int(const FilterCall& call) {
  const Value& input = call.input;
  if (input.is_int()) return input;
  if (input.is_bool()) return Value(input.as_bool() ? 1 : 0);
  if (input.is_double()) return Value(static_cast<int64_t>(std::trunc(input.as_double())));
  const Value* fallback = argument(call.args, call.kwargs, 0, "default");
  if (input.is_string()) {
    try {
      size_t used = 0;
      const std::string text = python_strip(input.as_string());
      const int64_t v = std::stoll(text, &used);
      if (used == text.size()) return Value(v);
      const double d = std::stod(text, &used);
      if (used == text.size()) return Value(static_cast<int64_t>(std::trunc(d)));
    } catch (const std::exception&) {
    }
  }
  return fallback != nullptr ? *fallback : Value(0);
}

Value filter_float(const FilterCall& call) {
  const Value& input = call.input;
  if (input.is_number()) return Value(input.as_double());
  const Value* fallback = argument(call.args, call.kwargs, 0, "default");
  if (input.is_string()) {
    try {
      size_t used = 0;
      const std::string text = python_strip(input.as_string());
      const double d = std::stod(text, &used);
      if (used == text.size()) return Value(d);
    } catch (const std::exception&) {
    }
  }
  return fallback != nullptr ? *fallback : Value(0.0);
}

Value filter_abs(const FilterCall& call) {
  const Value& input = call.input;
  if (input.is_int()) return Value(input.as_int() < 0 ? -input.as_int() : input.as_int());
  if (input.is_number()) return Value(std::fabs(input.as_double()));
  throw InputError(fmt::format("bad operand type for abs(): '{}'", input.type_name()));
}

Value filter_trim(const FilterCall& call) {
  const Value* chars = argument(call.args, call.kwargs, 0, "chars");
  if (chars != nullptr && !chars->is_none()) return Value(python_strip_chars(call.text, chars->str(), true, true));
  return Value(python_strip(call.text));
}

Value filter_lower(const FilterCall& call) { return Value(ascii_lower(call.text)); }

Value filter_upper(const FilterCall& call) { return Value(ascii_upper(call.text)); }

Value filter_title(const FilterCall& call) { return Value(ascii_title(call.text)); }

Value filter_capitalize(const FilterCall& call) {
  std::string out = ascii_lower(call.text);
  if (!out.empty()) out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  return Value(std::move(out));
}

Value filter_replace(const FilterCall& call) {
  const std::vector<Value>& args = call.args;
  if (args.size() < 2) throw InputError("replace: expected (old, new[, count])");
  const int64_t count = args.size() > 2 && args[2].is_int() ? args[2].as_int() : -1;
  return Value(replace_all(call.text, args[0].str(), args[1].str(), count));
}

Value filter_striptags(const FilterCall& call) { return Value(strip_tags(call.text)); }

Value filter_wordcount(const FilterCall& call) {
  return Value(static_cast<int64_t>(python_split_whitespace(call.text).size()));
}

// What a filter is given: the value itself, or (jinja2's string filters) its
// str(), where an undefined value is an error, except for trim.
enum class FilterInput { value, text, text_or_undefined };

struct NamedFilter {
  std::string_view name;
  FilterInput input;
  Value (*apply)(const FilterCall&);
};

constexpr std::array<NamedFilter, 31> kFilters = {{
    {"default", FilterInput::value, filter_default},
    {"d", FilterInput::value, filter_default},
    {"safe", FilterInput::value, filter_safe},
    {"e", FilterInput::value, filter_escape},
    {"escape", FilterInput::value, filter_escape},
    {"length", FilterInput::value, filter_length},
    {"count", FilterInput::value, filter_length},
    {"tojson", FilterInput::value, filter_tojson},
    {"string", FilterInput::value, filter_string},
    {"list", FilterInput::value, filter_list},
    {"first", FilterInput::value, filter_first},
    {"last", FilterInput::value, filter_last},
    {"items", FilterInput::value, filter_items},
    {"join", FilterInput::value, filter_join},
    {"selectattr", FilterInput::value, filter_selectattr},
    {"rejectattr", FilterInput::value, filter_rejectattr},
    {"map", FilterInput::value, filter_map},
    {"reverse", FilterInput::value, filter_reverse},
    {"unique", FilterInput::value, filter_unique},
    {"sort", FilterInput::value, filter_sort},
    {"int", FilterInput::value, filter_int},
    {"float", FilterInput::value, filter_float},
    {"abs", FilterInput::value, filter_abs},
    {"trim", FilterInput::text_or_undefined, filter_trim},
    {"lower", FilterInput::text, filter_lower},
    {"upper", FilterInput::text, filter_upper},
    {"title", FilterInput::text, filter_title},
    {"capitalize", FilterInput::text, filter_capitalize},
    {"replace", FilterInput::text, filter_replace},
    {"striptags", FilterInput::text, filter_striptags},
    {"wordcount", FilterInput::text, filter_wordcount},
}};

}  // namespace

Value apply_filter(const std::string& name, const Value& input, const std::vector<Value>& args, const Map& kwargs) {
  const auto it = std::find_if(kFilters.begin(), kFilters.end(), [&](const NamedFilter& f) { return f.name == name; });
  if (it == kFilters.end()) {
    // jinja2 converts the input of a string filter first, so an undefined input
    // fails before the name is looked at.
    if (input.is_undefined()) throw_undefined(input);
    throw InputError(fmt::format("unknown filter '{}'", name));
  }
  if (it->input == FilterInput::value) return it->apply(FilterCall{input, std::string(), args, kwargs});
  if (it->input == FilterInput::text && input.is_undefined()) throw_undefined(input);
  const std::string text = input.str();
  return it->apply(FilterCall{input, text, args, kwargs});
}

}  // namespace abliterate::chat::jinja
