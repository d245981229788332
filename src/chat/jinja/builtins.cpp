// Tests and methods: see include/abliterate/chat/jinja/builtins.hpp (the filters are in filters.cpp).
// Behaviour is jinja2 3.1's tests.py and Python's str/dict methods;
// case mapping (lower/upper/title/capitalize) covers ASCII only.
#include "abliterate/chat/jinja/builtins.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "abliterate/common/error.hpp"
#include "builtin_helpers.hpp"

namespace abliterate::chat::jinja {

using namespace detail;  // NOLINT: the helpers of builtin_helpers.hpp

namespace detail {

const Value* kwarg(const Map& kwargs, std::string_view key) {
  for (const auto& [name, value] : kwargs)
    if (name == key) return &value;
  return nullptr;
}

// Positional argument `index`, else keyword `key`, else nullptr.
const Value* argument(const std::vector<Value>& args, const Map& kwargs, size_t index, std::string_view key) {
  if (index < args.size()) return &args[index];
  return kwarg(kwargs, key);
}

const std::string& require_string(const Value& value, std::string_view what) {
  if (value.is_undefined()) throw_undefined(value);
  if (!value.is_string())
    throw InputError(fmt::format("{}: expected a string, got {}", what, value.type_name()));
  return value.as_string();
}

std::string ascii_lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string ascii_upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

// Python's str.title(): a letter after a non-letter is upper-cased, others lower.
std::string ascii_title(std::string text) {
  bool previous_cased = false;
  for (char& c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalpha(u)) {
      c = static_cast<char>(previous_cased ? std::tolower(u) : std::toupper(u));
      previous_cased = true;
    } else {
      previous_cased = u >= 0x80 && previous_cased;
    }
  }
  return text;
}

std::string replace_all(const std::string& text, const std::string& old_text, const std::string& new_text,
                        int64_t count) {
  std::string out;
  if (old_text.empty()) {
    // Python inserts `new` between characters and at both ends.
    const auto chars = utf8_characters(text);
    int64_t done = 0;
    for (const auto& c : chars) {
      if (count < 0 || done < count) {
        out += new_text;
        ++done;
      }
      out += c;
    }
    if (count < 0 || done < count) out += new_text;
    return out;
  }
  size_t pos = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    const size_t found = text.find(old_text, pos);
    if (found == std::string::npos) break;
    out.append(text, pos, found - pos);
    out += new_text;
    pos = found + old_text.size();
    ++done;
  }
  out.append(text, pos, std::string::npos);
  return out;
}

}  // namespace detail

namespace {

std::vector<std::string> split(const std::string& text, const Value* separator, int64_t max_split) {
  if (separator == nullptr || separator->is_none()) {
    std::vector<std::string> parts = python_split_whitespace(text);
    if (max_split >= 0 && static_cast<int64_t>(parts.size()) > max_split + 1) {
      // Rare; re-split keeping the tail verbatim is not needed by chat templates.
      throw InputError("split() with maxsplit and no separator is not supported");
    }
    return parts;
  }
  const std::string& sep = require_string(*separator, "split separator");
  if (sep.empty()) throw InputError("empty separator");
  std::vector<std::string> parts;
  size_t pos = 0;
  while (max_split < 0 || static_cast<int64_t>(parts.size()) < max_split) {
    const size_t found = text.find(sep, pos);
    if (found == std::string::npos) break;
    parts.push_back(text.substr(pos, found - pos));
    pos = found + sep.size();
  }
  parts.push_back(text.substr(pos));
  return parts;
}

}  // namespace

[[noreturn]] void throw_undefined(const Value& value) {
  throw InputError(fmt::format("'{}' is undefined", value.is_undefined() ? value.as_undefined().name : value.str()));
}

bool python_less(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) return a.as_double() < b.as_double();
  if (a.is_string() && b.is_string()) return a.as_string() < b.as_string();
  if (a.is_list() && b.is_list()) {
    const List& x = a.as_list();
    const List& y = b.as_list();
    for (size_t i = 0; i < std::min(x.size(), y.size()); ++i) {
      if (python_less(x[i], y[i])) return true;
      if (python_less(y[i], x[i])) return false;
    }
    return x.size() < y.size();
  }
  if (a.is_undefined()) throw_undefined(a);
  if (b.is_undefined()) throw_undefined(b);
  throw InputError(fmt::format("'<' not supported between instances of '{}' and '{}'", a.type_name(), b.type_name()));
}

List iterate(const Value& value) {
  if (value.is_undefined()) return {};
  if (value.is_list()) return value.as_list();
  if (value.is_map()) {
    List keys;
    for (const auto& [key, item] : value.as_map()) keys.emplace_back(key);
    return keys;
  }
  if (value.is_string()) {
    List chars;
    for (auto& c : utf8_characters(value.as_string())) chars.emplace_back(std::move(c));
    return chars;
  }
  throw InputError(fmt::format("'{}' object is not iterable", value.type_name()));
}

bool apply_test(const std::string& name, const Value& input, const std::vector<Value>& args) {
  const auto arg = [&](size_t i) -> const Value& {
    if (i >= args.size()) throw InputError(fmt::format("test '{}' expects an argument", name));
    return args[i];
  };
  if (name == "defined") return !input.is_undefined();
  if (name == "undefined") return input.is_undefined();
  if (name == "none") return input.is_none();
  if (name == "string") return input.is_string();
  if (name == "number") return input.is_number();
  if (name == "integer") return input.is_int();
  if (name == "float") return input.is_double();
  if (name == "boolean") return input.is_bool();
  if (name == "true") return input.is_bool() && input.as_bool();
  if (name == "false") return input.is_bool() && !input.as_bool();
  if (name == "mapping") return input.is_map();
  if (name == "iterable") return input.is_list() || input.is_map() || input.is_string() || input.is_undefined();
  if (name == "sequence") return input.is_list() || input.is_map() || input.is_string();
  if (name == "callable") return false;
  if (name == "even" || name == "odd" || name == "divisibleby") {
    if (!input.is_int() && !input.is_bool())
      throw InputError(fmt::format("test '{}' expects an integer, got {}", name, input.type_name()));
    const int64_t v = input.is_bool() ? (input.as_bool() ? 1 : 0) : input.as_int();
    if (name == "even") return v % 2 == 0;
    if (name == "odd") return v % 2 != 0;
    const Value& divisor = arg(0);
    if (!divisor.is_int() || divisor.as_int() == 0)
      throw InputError("divisibleby expects a non-zero integer");
    return v % divisor.as_int() == 0;
  }
  if (name == "eq" || name == "equalto" || name == "==") return input == arg(0);
  if (name == "ne" || name == "!=") return !(input == arg(0));
  if (name == "lt" || name == "lessthan" || name == "<") return python_less(input, arg(0));
  if (name == "gt" || name == "greaterthan" || name == ">") return python_less(arg(0), input);
  if (name == "le" || name == "<=") return !python_less(arg(0), input);
  if (name == "ge" || name == ">=") return !python_less(input, arg(0));
  if (name == "in") {
    const Value& container = arg(0);
    if (container.is_string()) return input.is_string() && container.as_string().find(input.as_string()) != std::string::npos;
    for (const Value& item : iterate(container))
      if (item == input) return true;
    return false;
  }
  if (name == "sameas") {
    const Value& other = arg(0);
    if (input.is_none() || other.is_none()) return input.is_none() && other.is_none();
    if (input.is_bool() || other.is_bool()) return input.is_bool() && other.is_bool() && input.as_bool() == other.as_bool();
    return false;
  }
  if (name == "lower") return input.is_string() && ascii_lower(input.as_string()) == input.as_string();
  if (name == "upper") return input.is_string() && ascii_upper(input.as_string()) == input.as_string();
  throw InputError(fmt::format("unknown test '{}'", name));
}

Value call_method(const Value& object, const std::string& name, const std::vector<Value>& args, const Map& kwargs) {
  if (object.is_string()) {
    const std::string& text = object.as_string();
    if (name == "strip" || name == "lstrip" || name == "rstrip") {
      const bool left = name != "rstrip";
      const bool right = name != "lstrip";
      const Value* chars = argument(args, kwargs, 0, "chars");
      if (chars != nullptr && !chars->is_none()) return Value(python_strip_chars(text, chars->str(), left, right));
      return Value(python_strip(text, left, right));
    }
    if (name == "split" || name == "rsplit") {
      const Value* max_split = argument(args, kwargs, 1, "maxsplit");
      if (name == "rsplit" && max_split != nullptr && max_split->is_int() && max_split->as_int() >= 0)
        throw InputError("rsplit with maxsplit is not supported");
      List parts;
      for (auto& part : split(text, argument(args, kwargs, 0, "sep"),
                              max_split != nullptr && max_split->is_int() ? max_split->as_int() : -1))
        parts.emplace_back(std::move(part));
      return Value(std::move(parts));
    }
    if (name == "startswith" || name == "endswith") {
      const Value& affix = args.empty() ? throw InputError(fmt::format("{}() takes an argument", name)) : args[0];
      List options = affix.is_list() ? affix.as_list() : List{affix};
      for (const Value& option : options) {
        const std::string& s = require_string(option, name);
        if (name == "startswith" ? text.starts_with(s) : text.ends_with(s)) return Value(true);
      }
      return Value(false);
    }
    if (name == "upper") return Value(ascii_upper(text));
    if (name == "lower") return Value(ascii_lower(text));
    if (name == "title") return Value(ascii_title(text));
    if (name == "capitalize") return apply_filter("capitalize", object, {}, {});
    if (name == "replace") {
      if (args.size() < 2) throw InputError("replace() takes (old, new[, count])");
      const int64_t count = args.size() > 2 && args[2].is_int() ? args[2].as_int() : -1;
      return Value(replace_all(text, require_string(args[0], "replace"), require_string(args[1], "replace"), count));
    }
    if (name == "find" || name == "count") {
      const std::string& needle = args.empty() ? throw InputError(fmt::format("{}() takes an argument", name))
                                               : require_string(args[0], name);
      if (name == "find") {
        const size_t pos = text.find(needle);
        return Value(pos == std::string::npos ? int64_t{-1}
                                              : static_cast<int64_t>(utf8_characters(text.substr(0, pos)).size()));
      }
      if (needle.empty()) return Value(static_cast<int64_t>(utf8_characters(text).size() + 1));
      int64_t count = 0;
      for (size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + needle.size()))
        ++count;
      return Value(count);
    }
    if (name == "join") {
      std::string out;
      bool first = true;
      for (const Value& item : args.empty() ? List{} : iterate(args[0])) {
        if (!first) out += text;
        first = false;
        out += require_string(item, "join item");
      }
      return Value(std::move(out));
    }
  }
  if (object.is_map()) {
    if (name == "items") return apply_filter("items", object, {}, {});
    if (name == "keys") return Value(iterate(object));
    if (name == "values") {
      List values;
      for (const auto& [key, value] : object.as_map()) values.push_back(value);
      return Value(std::move(values));
    }
    if (name == "get") {
      if (args.empty()) throw InputError("get() takes a key");
      const Value* found = args[0].is_string() ? object.find(args[0].as_string()) : nullptr;
      if (found != nullptr) return *found;
      return args.size() > 1 ? args[1] : Value(None{});
    }
  }
  if (object.is_list()) {
    if (name == "index" || name == "count") {
      if (args.empty()) throw InputError(fmt::format("{}() takes an argument", name));
      const List& items = object.as_list();
      int64_t count = 0;
      for (size_t i = 0; i < items.size(); ++i) {
        if (!(items[i] == args[0])) continue;
        if (name == "index") return Value(static_cast<int64_t>(i));
        ++count;
      }
      if (name == "index") throw InputError(fmt::format("{} is not in list", args[0].repr()));
      return Value(count);
    }
  }
  throw InputError(fmt::format("'{}' object has no method '{}'", object.type_name(), name));
}

}  // namespace abliterate::chat::jinja
