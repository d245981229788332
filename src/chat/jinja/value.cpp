// jinja::Value: see include/abliterate/chat/jinja/value.hpp.
#include "abliterate/chat/jinja/value.hpp"

#include <array>
#include <cmath>

#include <fmt/format.h>

#include "abliterate/common/error.hpp"
#include "abliterate/common/python_repr.hpp"
#include "abliterate/common/utf8.hpp"

namespace abliterate::chat::jinja {

namespace {

// Python's str.isspace() characters beyond ASCII, UTF-8 encoded.
constexpr std::array<std::string_view, 19> kUnicodeSpaces = {
    "\xC2\x85",     "\xC2\xA0",     "\xE1\x9A\x80", "\xE2\x80\x80", "\xE2\x80\x81", "\xE2\x80\x82", "\xE2\x80\x83",
    "\xE2\x80\x84", "\xE2\x80\x85", "\xE2\x80\x86", "\xE2\x80\x87", "\xE2\x80\x88", "\xE2\x80\x89", "\xE2\x80\x8A",
    "\xE2\x80\xA8", "\xE2\x80\xA9", "\xE2\x80\xAF", "\xE2\x81\x9F", "\xE3\x80\x80"};

size_t space_length_at_start(std::string_view text) {
  if (text.empty()) return 0;
  const auto c = static_cast<unsigned char>(text.front());
  if (c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F)) return 1;
  for (auto space : kUnicodeSpaces)
    if (text.starts_with(space)) return space.size();
  return 0;
}

size_t space_length_at_end(std::string_view text) {
  if (text.empty()) return 0;
  const auto c = static_cast<unsigned char>(text.back());
  if (c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F)) return 1;
  for (auto space : kUnicodeSpaces)
    if (text.ends_with(space)) return space.size();
  return 0;
}

std::string python_float_repr(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::string text = fmt::format("{}", v);
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  return text;
}

void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          out += fmt::format("\\u{:04x}", c);
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

void append_json(std::string& out, const Value& value, int indent, int depth) {
  const auto newline = [&](int level) {
    out += '\n';
    out.append(static_cast<size_t>(indent * level), ' ');
  };
  // json.dumps separators: (', ', ': ') without indent, (',', ': ') with it.
  const char* item_separator = indent < 0 ? ", " : ",";
  if (value.is_undefined() || value.is_none()) {
    out += "null";
  } else if (value.is_bool()) {
    out += value.as_bool() ? "true" : "false";
  } else if (value.is_int()) {
    out += std::to_string(value.as_int());
  } else if (value.is_double()) {
    const double v = value.as_double();
    out += std::isnan(v) ? "NaN" : std::isinf(v) ? (v > 0 ? "Infinity" : "-Infinity") : python_float_repr(v);
  } else if (value.is_string()) {
    append_json_string(out, value.as_string());
  } else if (value.is_list()) {
    const List& list = value.as_list();
    out += '[';
    for (size_t i = 0; i < list.size(); ++i) {
      if (i > 0) out += item_separator;
      if (indent >= 0) newline(depth + 1);
      append_json(out, list[i], indent, depth + 1);
    }
    if (indent >= 0 && !list.empty()) newline(depth);
    out += ']';
  } else {
    const Map& map = value.as_map();
    out += '{';
    for (size_t i = 0; i < map.size(); ++i) {
      if (i > 0) out += item_separator;
      if (indent >= 0) newline(depth + 1);
      append_json_string(out, map[i].first);
      out += ": ";
      append_json(out, map[i].second, indent, depth + 1);
    }
    if (indent >= 0 && !map.empty()) newline(depth);
    out += '}';
  }
}

}  // namespace

namespace {

template <typename Json>
Value value_from_json(const Json& json) {
  switch (json.type()) {
    case nlohmann::json::value_t::null: return Value(None{});
    case nlohmann::json::value_t::boolean: return Value(json.template get<bool>());
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned: return Value(json.template get<int64_t>());
    case nlohmann::json::value_t::number_float: return Value(json.template get<double>());
    case nlohmann::json::value_t::string: return Value(json.template get<std::string>());
    case nlohmann::json::value_t::array: {
      List list;
      for (const auto& item : json) list.push_back(value_from_json(item));
      return Value(std::move(list));
    }
    case nlohmann::json::value_t::object: {
      Map map;
      for (const auto& [key, item] : json.items()) map.emplace_back(key, value_from_json(item));
      return Value(std::move(map));
    }
    default: throw InputError(fmt::format("chat template: cannot use a JSON {} as a template value", json.type_name()));
  }
}

}  // namespace

Value Value::from_json(const nlohmann::json& json) { return value_from_json(json); }
Value Value::from_json(const nlohmann::ordered_json& json) { return value_from_json(json); }

double Value::as_double() const {
  if (is_double()) return std::get<double>(storage_);
  if (is_int()) return static_cast<double>(as_int());
  return as_bool() ? 1.0 : 0.0;
}

const Value* Value::find(std::string_view key) const {
  for (const auto& [name, value] : as_map())
    if (name == key) return &value;
  return nullptr;
}

void Value::set(const std::string& key, Value value) {
  for (auto& [name, existing] : as_map()) {
    if (name == key) {
      existing = std::move(value);
      return;
    }
  }
  as_map().emplace_back(key, std::move(value));
}

bool Value::truthy() const {
  if (is_undefined() || is_none()) return false;
  if (is_bool()) return as_bool();
  if (is_int()) return as_int() != 0;
  if (is_double()) return as_double() != 0.0;
  if (is_string()) return !as_string().empty();
  if (is_list()) return !as_list().empty();
  return !as_map().empty();
}

std::string Value::str() const {
  if (is_undefined()) return "";
  if (is_string()) return as_string();
  return repr();
}

std::string Value::repr() const {
  if (is_undefined()) return "Undefined";
  if (is_none()) return "None";
  if (is_bool()) return as_bool() ? "True" : "False";
  if (is_int()) return std::to_string(as_int());
  if (is_double()) return python_float_repr(as_double());
  if (is_string()) return python_repr(as_string());
  std::string out;
  if (is_list()) {
    out += '[';
    const List& list = as_list();
    for (size_t i = 0; i < list.size(); ++i) {
      if (i > 0) out += ", ";
      out += list[i].repr();
    }
    out += ']';
    return out;
  }
  out += '{';
  const Map& map = as_map();
  for (size_t i = 0; i < map.size(); ++i) {
    if (i > 0) out += ", ";
    out += python_repr(map[i].first) + ": " + map[i].second.repr();
  }
  out += '}';
  return out;
}

std::string Value::to_json(int indent) const {
  std::string out;
  append_json(out, *this, indent, 0);
  return out;
}

std::string Value::type_name() const {
  if (is_undefined()) return "Undefined";
  if (is_none()) return "NoneType";
  if (is_bool()) return "bool";
  if (is_int()) return "int";
  if (is_double()) return "float";
  if (is_string()) return "str";
  if (is_list()) return "list";
  return "dict";
}

bool operator==(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_double() || b.is_double()) return a.as_double() == b.as_double();
    const int64_t x = a.is_bool() ? (a.as_bool() ? 1 : 0) : a.as_int();
    const int64_t y = b.is_bool() ? (b.as_bool() ? 1 : 0) : b.as_int();
    return x == y;
  }
  if (a.storage_.index() != b.storage_.index()) return false;
  if (a.is_undefined() || a.is_none()) return true;
  if (a.is_string()) return a.as_string() == b.as_string();
  if (a.is_list()) return a.as_list() == b.as_list();
  const Map& x = a.as_map();
  if (x.size() != b.as_map().size()) return false;
  for (const auto& [key, value] : x) {
    const Value* other = b.find(key);
    if (other == nullptr || !(*other == value)) return false;
  }
  return true;
}

std::string python_strip(std::string_view text, bool left, bool right) {
  if (left)
    while (const size_t n = space_length_at_start(text)) text.remove_prefix(n);
  if (right)
    while (const size_t n = space_length_at_end(text)) text.remove_suffix(n);
  return std::string(text);
}

std::string python_strip_chars(std::string_view text, std::string_view chars, bool left, bool right) {
  const std::vector<std::string> set = utf8_characters(chars);
  const auto match_start = [&](std::string_view t) -> size_t {
    for (const auto& c : set)
      if (t.starts_with(c)) return c.size();
    return 0;
  };
  const auto match_end = [&](std::string_view t) -> size_t {
    for (const auto& c : set)
      if (t.ends_with(c)) return c.size();
    return 0;
  };
  if (left)
    while (const size_t n = match_start(text)) text.remove_prefix(n);
  if (right)
    while (const size_t n = match_end(text)) text.remove_suffix(n);
  return std::string(text);
}

std::vector<std::string> python_split_whitespace(std::string_view text) {
  std::vector<std::string> parts;
  std::string current;
  bool in_word = false;
  while (!text.empty()) {
    if (const size_t n = space_length_at_start(text)) {
      if (in_word) parts.push_back(std::move(current));
      current.clear();
      in_word = false;
      text.remove_prefix(n);
      continue;
    }
    const size_t n = utf8_char_length(text, 0);
    current.append(text.substr(0, n));
    in_word = true;
    text.remove_prefix(n);
  }
  if (in_word) parts.push_back(std::move(current));
  return parts;
}

std::vector<std::string> utf8_characters(std::string_view text) {
  std::vector<std::string> chars;
  for (std::string_view c : utf8_split(text)) chars.emplace_back(c);
  return chars;
}

}  // namespace abliterate::chat::jinja
