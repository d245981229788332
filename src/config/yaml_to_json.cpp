#include "abliterate/config/yaml_to_json.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <regex>
#include <set>
#include <string_view>

#include "abliterate/common/error.hpp"

namespace abliterate::config {

using nlohmann::json;

namespace {

// A job file is a mapping of mappings; anything deeper is a mistake or an
// alias cycle (yaml-cpp builds `&a [*a]` as a node that contains itself).
constexpr int kMaxDepth = 32;

// yaml-cpp 0.7 tags: "?" = plain scalar (resolve by content), "!" = quoted or
// block scalar (a string), "" = a null node; explicit tags come expanded.
constexpr std::string_view kTagPlain = "?";
constexpr std::string_view kTagNonPlain = "!";
constexpr std::string_view kTagStr = "tag:yaml.org,2002:str";
constexpr std::string_view kTagInt = "tag:yaml.org,2002:int";
constexpr std::string_view kTagFloat = "tag:yaml.org,2002:float";
constexpr std::string_view kTagBool = "tag:yaml.org,2002:bool";
constexpr std::string_view kTagNull = "tag:yaml.org,2002:null";
constexpr std::string_view kTagMap = "tag:yaml.org,2002:map";
constexpr std::string_view kTagSeq = "tag:yaml.org,2002:seq";

std::string where(const std::string& file, const YAML::Mark& mark) {
  if (mark.is_null()) return file;
  return fmt::format("{}:{}:{}", file, mark.line + 1, mark.column + 1);
}

// YAML 1.2 core schema, §10.3.2 of the YAML spec.
bool is_null_text(const std::string& s) { return s == "null" || s == "Null" || s == "NULL" || s == "~"; }

std::optional<bool> parse_bool(const std::string& s) {
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  return std::nullopt;
}

std::optional<json> parse_int(const std::string& s) {
  static const std::regex kDecimal("[-+]?[0-9]+");
  static const std::regex kOctal("0o[0-7]+");
  static const std::regex kHex("0x[0-9a-fA-F]+");
  int base = 10;
  std::string_view digits = s;
  if (std::regex_match(s, kOctal)) {
    base = 8;
    digits.remove_prefix(2);
  } else if (std::regex_match(s, kHex)) {
    base = 16;
    digits.remove_prefix(2);
  } else if (!std::regex_match(s, kDecimal)) {
    return std::nullopt;
  }
  const bool negative = !digits.empty() && digits[0] == '-';
  if (!digits.empty() && (digits[0] == '+' || digits[0] == '-')) digits.remove_prefix(1);
  uint64_t magnitude = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), magnitude, base);
  if (ec == std::errc() && end == digits.data() + digits.size()) {
    constexpr uint64_t kMaxNegative = uint64_t{1} << 63;  // |INT64_MIN|
    if (!negative) {
      if (magnitude <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return json(static_cast<int64_t>(magnitude));
      }
      return json(magnitude);
    }
    if (magnitude < kMaxNegative) return json(-static_cast<int64_t>(magnitude));
    if (magnitude == kMaxNegative) return json(std::numeric_limits<int64_t>::min());
  }
  // Too large for 64 bits: keep it as a number so that range checks report it.
  return json(std::strtod(s.c_str(), nullptr));
}

std::optional<json> parse_float(const std::string& s) {
  static const std::regex kFloat("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
  static const std::regex kInf("[-+]?\\.(inf|Inf|INF)");
  static const std::regex kNan("\\.(nan|NaN|NAN)");
  if (std::regex_match(s, kInf)) {
    return json(s[0] == '-' ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity());
  }
  if (std::regex_match(s, kNan)) return json(std::numeric_limits<double>::quiet_NaN());
  if (!std::regex_match(s, kFloat)) return std::nullopt;
  std::string_view text = s;
  if (text[0] == '+') text.remove_prefix(1);  // from_chars takes no '+'
  double value = 0.0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec == std::errc::result_out_of_range) {
    // Overflow reads as infinity, which the schema then rejects with the text.
    return json(text[0] == '-' ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity());
  }
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return json(value);
}

class Converter {
 public:
  explicit Converter(const std::string& file) : file_(file) {}

  json convert(const YAML::Node& node, int depth) const {
    ABL_CHECK(depth < kMaxDepth, InputError, "{}: nested deeper than {} levels (or an alias refers to itself)",
              where(file_, node.Mark()), kMaxDepth);
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        return json();
      case YAML::NodeType::Scalar:
        return scalar(node);
      case YAML::NodeType::Sequence: {
        check_collection_tag(node, kTagSeq);
        json out = json::array();
        for (const YAML::Node& item : node) out.push_back(convert(item, depth + 1));
        return out;
      }
      case YAML::NodeType::Map: {
        check_collection_tag(node, kTagMap);
        json out = json::object();
        for (const auto& entry : node) {
          // Copies: yaml-cpp's iterator hands out temporaries, and Node is a handle.
          const YAML::Node key = entry.first;
          const YAML::Node value = entry.second;
          ABL_CHECK(key.IsScalar(), InputError, "{}: a key must be a plain name, got a {}", where(file_, key.Mark()),
                    key.IsMap()        ? "mapping"
                    : key.IsSequence() ? "list"
                                       : "null");
          const std::string& name = key.Scalar();
          ABL_CHECK(!out.contains(name), InputError, "{}: duplicate key \"{}\"", where(file_, key.Mark()), name);
          out[name] = convert(value, depth + 1);
        }
        return out;
      }
    }
    return json();
  }

 private:
  void check_collection_tag(const YAML::Node& node, std::string_view expected) const {
    const std::string& tag = node.Tag();
    ABL_CHECK(tag == kTagPlain || tag == kTagNonPlain || tag.empty() || tag == expected, InputError,
              "{}: unsupported YAML tag \"{}\"", where(file_, node.Mark()), tag);
  }

  json scalar(const YAML::Node& node) const {
    const std::string& text = node.Scalar();
    const std::string& tag = node.Tag();
    if (tag == kTagNonPlain || tag == kTagStr) return json(text);
    if (tag == kTagPlain) {
      if (is_null_text(text)) return json();
      if (auto b = parse_bool(text)) return json(*b);
      if (auto i = parse_int(text)) return *i;
      if (auto f = parse_float(text)) return *f;
      return json(text);
    }
    if (tag == kTagNull) {
      ABL_CHECK(text.empty() || is_null_text(text), InputError, "{}: !!null: expected null, got \"{}\"",
                where(file_, node.Mark()), text);
      return json();
    }
    if (tag == kTagBool) {
      const auto b = parse_bool(text);
      ABL_CHECK(b.has_value(), InputError, "{}: !!bool: expected true or false, got \"{}\"", where(file_, node.Mark()),
                text);
      return json(*b);
    }
    if (tag == kTagInt) {
      const auto i = parse_int(text);
      ABL_CHECK(i.has_value(), InputError, "{}: !!int: expected an integer, got \"{}\"", where(file_, node.Mark()),
                text);
      return *i;
    }
    if (tag == kTagFloat) {
      auto f = parse_float(text);
      if (!f) f = parse_int(text);
      ABL_CHECK(f.has_value(), InputError, "{}: !!float: expected a number, got \"{}\"", where(file_, node.Mark()),
                text);
      return json(f->get<double>());
    }
    throw InputError(fmt::format("{}: unsupported YAML tag \"{}\"", where(file_, node.Mark()), tag));
  }

  const std::string& file_;
};

}  // namespace

json yaml_to_json(const std::string& text, const std::string& display_name) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw InputError(fmt::format("{}: not valid YAML: {}", where(display_name, e.mark), e.msg));
  }
  return Converter(display_name).convert(root, 0);
}

}  // namespace abliterate::config
