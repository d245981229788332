// The parsed form of a chat template: expressions and statements of the
// Jinja subset HF chat templates use (spec/model-runtime.md §2-3).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "abliterate/chat/jinja/value.hpp"

namespace abliterate::chat::jinja {

enum class ExprKind {
  kLiteral,      // literal
  kName,         // name
  kList,         // args: items (tuples are lists too)
  kDict,         // args: key0, value0, key1, value1, ...
  kAttribute,    // args[0].name
  kSubscript,    // args[0][args[1]]
  kSlice,        // args[0][args[1]:args[2]:args[3]], missing parts are null
  kCall,         // args[0](args[1:], kwargs)
  kFilter,       // args[0] | name(args[1:], kwargs)
  kTest,         // args[0] is [not] name(args[1:])
  kUnary,        // name in {"-", "+", "not"} applied to args[0]
  kBinary,       // args[0] name args[1]; name is an operator, "and", "or", "in", "not in"
  kConditional,  // args[0] if args[1] else args[2] (args[2] may be null)
};

struct Expr {
  ExprKind kind;
  int line = 0;
  Value literal;
  std::string name;
  bool negated = false;  // `is not`
  std::vector<std::unique_ptr<Expr>> args;
  std::vector<std::pair<std::string, std::unique_ptr<Expr>>> kwargs;
};

enum class NodeKind {
  kText,    // text
  kOutput,  // {{ expr }}
  kIf,      // {% if expr %} body {% else %} else_body (elif nests an kIf in else_body)
  kFor,     // {% for targets in expr [if filter] %} body {% else %} else_body
  kSet,     // {% set targets = expr %} or {% set targets[0].attribute = expr %}; block form: body
};

struct Node {
  NodeKind kind;
  int line = 0;
  std::string text;
  std::unique_ptr<Expr> expr;
  std::unique_ptr<Expr> filter;
  std::vector<std::string> targets;
  std::string attribute;  // set ns.attribute = ...
  std::vector<Node> body;
  std::vector<Node> else_body;
};

}  // namespace abliterate::chat::jinja
