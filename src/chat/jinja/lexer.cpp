// Jinja lexer: see include/abliterate/chat/jinja/lexer.hpp. The whitespace
// rules follow jinja2/lexer.py (3.1): `{%-`/`{#-`/`{{-` strip all whitespace
// before the tag, `-%}`/`-#}`/`-}}` all whitespace after it; trim_blocks drops
// the first newline after a block or comment tag; lstrip_blocks drops the
// spaces and tabs between a line start and a block or comment tag, unless the
// tag opens with `+`.
#include "abliterate/chat/jinja/lexer.hpp"

#include <algorithm>
#include <cctype>

#include "abliterate/chat/jinja/value.hpp"
#include "abliterate/common/error.hpp"

namespace abliterate::chat::jinja {

namespace {

// jinja2 normalises \r\n and \r to \n and drops one trailing newline.
std::string normalize_newlines(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out += source[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

class Lexer {
 public:
  explicit Lexer(std::string source) : source_(std::move(source)) {
    for (size_t i = 0; i < source_.size(); ++i)
      if (source_[i] == '\n') newlines_.push_back(i);
  }

  std::vector<Token> run() {
    size_t pos = 0;
    while (pos <= source_.size()) {
      const size_t start = next_tag(pos);
      std::string text = source_.substr(pos, start == std::string::npos ? std::string::npos : start - pos);
      if (start == std::string::npos) {
        emit_text(std::move(text), pos);
        break;
      }
      const char kind = source_[start + 1];  // '{', '%' or '#'
      const char control = start + 2 < source_.size() ? source_[start + 2] : '\0';
      if (control == '-') {
        text = python_strip(text, false, true);
      } else if (control != '+' && kind != '{') {
        // lstrip_blocks: only spaces/tabs between the line start and the tag.
        const size_t line_start = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
        const bool line_starting = pos == 0 || source_[pos - 1] == '\n';
        if ((line_start > 0 || line_starting) && line_start < text.size() &&
            python_strip(std::string_view(text).substr(line_start), true, false).empty()) {
          text.resize(line_start);
        }
      }
      emit_text(std::move(text), pos);
      size_t body = start + 2 + ((control == '-' || control == '+') ? 1 : 0);
      if (kind == '#') {
        pos = end_comment(body, start);
      } else {
        pos = lex_tag(body, kind == '{', start);
      }
    }
    tokens_.push_back({TokenKind::kEnd, "", line_at(source_.size())});
    return std::move(tokens_);
  }

 private:
  size_t next_tag(size_t pos) const {
    for (size_t i = source_.find('{', pos); i != std::string::npos; i = source_.find('{', i + 1)) {
      if (i + 1 < source_.size() && (source_[i + 1] == '{' || source_[i + 1] == '%' || source_[i + 1] == '#'))
        return i;
    }
    return std::string::npos;
  }

  void emit_text(std::string text, size_t pos) {
    if (!text.empty()) tokens_.push_back({TokenKind::kText, std::move(text), line_at(pos)});
  }

  // Where the text after a closing delimiter at `pos` (its first char) resumes.
  size_t after_close(size_t pos, size_t delimiter_size, bool minus, bool plus, bool block) const {
    size_t next = pos + delimiter_size;
    if (minus) {
      const std::string_view rest = std::string_view(source_).substr(next);
      next += rest.size() - python_strip(rest, true, false).size();
    } else if (block && !plus && next < source_.size() && source_[next] == '\n') {
      ++next;  // trim_blocks
    }
    return next;
  }

  size_t end_comment(size_t body, size_t start) const {
    const size_t close = source_.find("#}", body);
    ABL_CHECK(close != std::string::npos, FormatError, "chat template: line {}: unterminated comment {{#",
              line_at(start));
    const bool minus = close > body && source_[close - 1] == '-';
    const bool plus = close > body && source_[close - 1] == '+';
    return after_close(close, 2, minus, plus, true);
  }

  size_t lex_tag(size_t pos, bool variable, size_t start) {
    const int line = line_at(start);
    tokens_.push_back({variable ? TokenKind::kVarBegin : TokenKind::kBlockBegin, "", line});
    int braces = 0;
    while (true) {
      while (pos < source_.size() && std::isspace(static_cast<unsigned char>(source_[pos]))) ++pos;
      ABL_CHECK(pos < source_.size(), FormatError, "chat template: line {}: unterminated {} tag", line,
                variable ? "{{ }}" : "{% %}");
      const std::string_view rest = std::string_view(source_).substr(pos);
      const std::string_view close = variable ? "}}" : "%}";
      const bool minus = rest.starts_with('-') && rest.substr(1).starts_with(close);
      const bool plus = !variable && rest.starts_with('+') && rest.substr(1).starts_with(close);
      if (braces == 0 && (minus || plus || rest.starts_with(close))) {
        const size_t close_pos = pos + ((minus || plus) ? 1 : 0);
        tokens_.push_back({variable ? TokenKind::kVarEnd : TokenKind::kBlockEnd, "", line_at(pos)});
        return after_close(close_pos, 2, minus, plus, !variable);
      }
      pos = lex_expression_token(pos, braces);
    }
  }

  size_t lex_expression_token(size_t pos, int& braces) {
    const int line = line_at(pos);
    const char c = source_[pos];
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t end = pos;
      while (end < source_.size() && (std::isalnum(static_cast<unsigned char>(source_[end])) || source_[end] == '_'))
        ++end;
      tokens_.push_back({TokenKind::kName, source_.substr(pos, end - pos), line});
      return end;
    }
    if (std::isdigit(static_cast<unsigned char>(c))) {
      size_t end = pos;
      bool is_float = false;
      while (end < source_.size() && (std::isdigit(static_cast<unsigned char>(source_[end])) || source_[end] == '_'))
        ++end;
      if (end + 1 < source_.size() && source_[end] == '.' && std::isdigit(static_cast<unsigned char>(source_[end + 1]))) {
        is_float = true;
        ++end;
        while (end < source_.size() && std::isdigit(static_cast<unsigned char>(source_[end]))) ++end;
      }
      if (end < source_.size() && (source_[end] == 'e' || source_[end] == 'E')) {
        size_t exp = end + 1;
        if (exp < source_.size() && (source_[exp] == '+' || source_[exp] == '-')) ++exp;
        if (exp < source_.size() && std::isdigit(static_cast<unsigned char>(source_[exp]))) {
          is_float = true;
          end = exp;
          while (end < source_.size() && std::isdigit(static_cast<unsigned char>(source_[end]))) ++end;
        }
      }
      std::string digits;
      for (size_t i = pos; i < end; ++i)
        if (source_[i] != '_') digits += source_[i];
      tokens_.push_back({is_float ? TokenKind::kFloat : TokenKind::kInteger, digits, line});
      return end;
    }
    if (c == '\'' || c == '"') return lex_string(pos, line);
    static constexpr std::string_view kTwoCharOperators[] = {"//", "**", "==", "!=", "<=", ">="};
    for (auto op : kTwoCharOperators) {
      if (std::string_view(source_).substr(pos).starts_with(op)) {
        tokens_.push_back({TokenKind::kOperator, std::string(op), line});
        return pos + 2;
      }
    }
    static constexpr std::string_view kOneCharOperators = "+-*/%~<>()[]{},.:|=";
    ABL_CHECK(kOneCharOperators.find(c) != std::string_view::npos, FormatError,
              "chat template: line {}: unexpected character '{}' in an expression", line, c);
    if (c == '{') ++braces;
    if (c == '}') --braces;
    tokens_.push_back({TokenKind::kOperator, std::string(1, c), line});
    return pos + 1;
  }

  // A Python string literal: \n \t \r \\ \' \" \0 \xNN \uNNNN are resolved.
  size_t lex_string(size_t pos, int line) {
    const char quote = source_[pos];
    std::string value;
    size_t i = pos + 1;
    for (; i < source_.size() && source_[i] != quote; ++i) {
      if (source_[i] != '\\' || i + 1 >= source_.size()) {
        value += source_[i];
        continue;
      }
      const char escaped = source_[++i];
      switch (escaped) {
        case 'n': value += '\n'; break;
        case 't': value += '\t'; break;
        case 'r': value += '\r'; break;
        case '0': value += '\0'; break;
        case '\\': value += '\\'; break;
        case '\'': value += '\''; break;
        case '"': value += '"'; break;
        case '\n': break;  // line continuation
        case 'x':
        case 'u': {
          const size_t digits = escaped == 'x' ? 2 : 4;
          ABL_CHECK(i + digits < source_.size(), FormatError, "chat template: line {}: truncated \\{} escape",
                    line, escaped);
          const auto code = static_cast<uint32_t>(std::stoul(source_.substr(i + 1, digits), nullptr, 16));
          i += digits;
          append_utf8(value, code);
          break;
        }
        default:
          // Python keeps unknown escapes as written.
          value += '\\';
          value += escaped;
      }
    }
    ABL_CHECK(i < source_.size(), FormatError, "chat template: line {}: unterminated string literal", line);
    tokens_.push_back({TokenKind::kString, std::move(value), line});
    return i + 1;
  }

  static void append_utf8(std::string& out, uint32_t code) {
    if (code < 0x80) {
      out += static_cast<char>(code);
    } else if (code < 0x800) {
      out += static_cast<char>(0xC0 | (code >> 6));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else {
      out += static_cast<char>(0xE0 | (code >> 12));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    }
  }

  // 1-based line of byte `pos`.
  int line_at(size_t pos) const {
    return 1 + static_cast<int>(std::lower_bound(newlines_.begin(), newlines_.end(), pos) - newlines_.begin());
  }

  std::string source_;
  std::vector<size_t> newlines_;  // offsets of '\n' in source_, ascending
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> tokenize_template(std::string_view source) { return Lexer(normalize_newlines(source)).run(); }

}  // namespace abliterate::chat::jinja
