// Splitting a Jinja template into text and tag tokens, with jinja2's
// whitespace rules as transformers configures them (trim_blocks=True,
// lstrip_blocks=True, keep_trailing_newline=False); spec/model-runtime.md §2.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace abliterate::chat::jinja {

enum class TokenKind {
  kText,         // literal template text, whitespace control already applied
  kVarBegin,     // {{
  kVarEnd,       // }}
  kBlockBegin,   // {%
  kBlockEnd,     // %}
  kName,         // identifier or keyword
  kString,       // string literal, escapes already resolved
  kInteger,
  kFloat,
  kOperator,     // + - * / // % ** ~ == != < <= > >= ( ) [ ] { } , . : | =
  kEnd,          // end of the template
};

struct Token {
  TokenKind kind;
  std::string text;
  int line;  // 1-based, for error messages
};

// Tokens of the whole template. Throws FormatError naming the line on an
// unterminated tag or string, or a character no expression may contain.
std::vector<Token> tokenize_template(std::string_view source);

}  // namespace abliterate::chat::jinja
