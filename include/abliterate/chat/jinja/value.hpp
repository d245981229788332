// The values a chat template computes with (spec/model-runtime.md §2-3): a
// small variant with Python's semantics, because HF renders templates with
// Python jinja2 and the prompt text must match it byte for byte.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace abliterate::chat::jinja {

class Value;
using List = std::vector<Value>;
// Python dicts keep insertion order, and tojson prints keys in that order.
using Map = std::vector<std::pair<std::string, Value>>;

// Jinja's Undefined: a missing variable or key. It prints as "" and is falsy;
// anything else done with it is an error (jinja2's default Undefined).
struct Undefined {
  std::string name;  // what was looked up, for the error message
};
struct None {};

class Value {
 public:
  // Lists and maps are shared: `namespace()` objects are mutated through
  // `{% set ns.x = ... %}` from inner scopes and every copy must see it.
  using Storage = std::variant<Undefined, None, bool, int64_t, double, std::string, std::shared_ptr<List>,
                               std::shared_ptr<Map>>;

  Value() : storage_(Undefined{}) {}
  Value(None) : storage_(None{}) {}
  Value(Undefined u) : storage_(std::move(u)) {}
  Value(bool b) : storage_(b) {}
  Value(int v) : storage_(static_cast<int64_t>(v)) {}
  Value(int64_t v) : storage_(v) {}
  Value(double v) : storage_(v) {}
  Value(const char* s) : storage_(std::string(s)) {}
  Value(std::string s) : storage_(std::move(s)) {}
  Value(List list) : storage_(std::make_shared<List>(std::move(list))) {}
  Value(Map map) : storage_(std::make_shared<Map>(std::move(map))) {}

  // JSON objects become maps in the JSON's key order (ordered_json keeps the
  // file's order, which tojson then reproduces).
  static Value from_json(const nlohmann::json& json);
  static Value from_json(const nlohmann::ordered_json& json);

  bool is_undefined() const { return std::holds_alternative<Undefined>(storage_); }
  bool is_none() const { return std::holds_alternative<None>(storage_); }
  bool is_bool() const { return std::holds_alternative<bool>(storage_); }
  bool is_int() const { return std::holds_alternative<int64_t>(storage_); }
  bool is_double() const { return std::holds_alternative<double>(storage_); }
  // Python's numbers.Number, which includes bool.
  bool is_number() const { return is_int() || is_double() || is_bool(); }
  bool is_string() const { return std::holds_alternative<std::string>(storage_); }
  bool is_list() const { return std::holds_alternative<std::shared_ptr<List>>(storage_); }
  bool is_map() const { return std::holds_alternative<std::shared_ptr<Map>>(storage_); }

  bool as_bool() const { return std::get<bool>(storage_); }
  int64_t as_int() const { return std::get<int64_t>(storage_); }
  // int, bool or double as a double (Python's float()).
  double as_double() const;
  const std::string& as_string() const { return std::get<std::string>(storage_); }
  const List& as_list() const { return *std::get<std::shared_ptr<List>>(storage_); }
  List& as_list() { return *std::get<std::shared_ptr<List>>(storage_); }
  const Map& as_map() const { return *std::get<std::shared_ptr<Map>>(storage_); }
  Map& as_map() { return *std::get<std::shared_ptr<Map>>(storage_); }
  const Undefined& as_undefined() const { return std::get<Undefined>(storage_); }

  // The value under `key`, or nullptr. Precondition: is_map().
  const Value* find(std::string_view key) const;
  // Sets `key`, keeping its position when present. Precondition: is_map().
  void set(const std::string& key, Value value);

  // Python's bool(x).
  bool truthy() const;
  // Python's str(x): True/False/None, 1.0, ['a', 1], {'k': 'v'}; Undefined is "".
  std::string str() const;
  // Python's repr(x) (quotes strings).
  std::string repr() const;
  // Python's json.dumps(x, ensure_ascii=False, indent=indent) (HF's tojson);
  // indent < 0 means none.
  std::string to_json(int indent = -1) const;
  // The Python type name, for error messages ("str", "int", "list", ...).
  std::string type_name() const;

  // Python's ==: deep, and 1 == 1.0 == True.
  friend bool operator==(const Value& a, const Value& b);

 private:
  Storage storage_;
};

// Python's str.strip()/lstrip()/rstrip() with no argument: ASCII whitespace,
// 0x1C-0x1F and the Unicode spaces (UTF-8 encoded).
std::string python_strip(std::string_view text, bool left = true, bool right = true);
// The same with an explicit set of characters (each one a UTF-8 character).
std::string python_strip_chars(std::string_view text, std::string_view chars, bool left, bool right);
// Python's str.split() with no separator: runs of whitespace.
std::vector<std::string> python_split_whitespace(std::string_view text);
// The UTF-8 characters of `text` (an invalid byte is one character).
std::vector<std::string> utf8_characters(std::string_view text);

}  // namespace abliterate::chat::jinja
