// Jinja parser: see include/abliterate/chat/jinja/parser.hpp. Precedence
// follows jinja2/parser.py: conditional < or < and < not < comparison
// (==, !=, <, <=, >, >=, in, not in) < + - < ~ < * / // % < ** < unary -
// < primary with postfix (. [] ()) and filters/tests (| is).
#include "abliterate/chat/jinja/parser.hpp"

#include <set>

#include <fmt/ranges.h>  // fmt::join (in fmt/format.h only before fmt 11; LibTorch 2.x bundles fmt 12)

#include "abliterate/chat/jinja/lexer.hpp"
#include "abliterate/common/error.hpp"

namespace abliterate::chat::jinja {

namespace {

using ExprPtr = std::unique_ptr<Expr>;

ExprPtr make_expr(ExprKind kind, int line, std::string name = {}) {
  auto expr = std::make_unique<Expr>();
  expr->kind = kind;
  expr->line = line;
  expr->name = std::move(name);
  return expr;
}

Node make_node(NodeKind kind, int line) {
  Node node;
  node.kind = kind;
  node.line = line;
  return node;
}

ExprPtr make_binary(std::string op, ExprPtr left, ExprPtr right) {
  auto expr = make_expr(ExprKind::kBinary, left->line, std::move(op));
  expr->args.push_back(std::move(left));
  expr->args.push_back(std::move(right));
  return expr;
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  std::vector<Node> parse() {
    std::string end;
    std::vector<Node> nodes = parse_body({}, end);
    return nodes;
  }

 private:
  const Token& peek(size_t ahead = 0) const { return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)]; }
  const Token& next() { return tokens_[std::min(pos_++, tokens_.size() - 1)]; }
  bool at_operator(std::string_view op) const { return peek().kind == TokenKind::kOperator && peek().text == op; }
  bool at_name(std::string_view name) const { return peek().kind == TokenKind::kName && peek().text == name; }

  [[noreturn]] void fail(const std::string& problem) const {
    throw FormatError(fmt::format("chat template: line {}: {}", peek().line, problem));
  }

  std::string describe(const Token& token) const {
    switch (token.kind) {
      case TokenKind::kEnd: return "end of template";
      case TokenKind::kVarEnd: return "'}}'";
      case TokenKind::kBlockEnd: return "'%}'";
      case TokenKind::kString: return "a string";
      default: return "'" + token.text + "'";
    }
  }

  void expect_operator(std::string_view op) {
    if (!at_operator(op)) fail(fmt::format("expected '{}', got {}", op, describe(peek())));
    ++pos_;
  }
  std::string expect_name() {
    if (peek().kind != TokenKind::kName) fail(fmt::format("expected a name, got {}", describe(peek())));
    return next().text;
  }
  void expect_block_end() {
    if (peek().kind != TokenKind::kBlockEnd) fail(fmt::format("expected '%}}', got {}", describe(peek())));
    ++pos_;
  }

  // Statements until a block tag whose keyword is in `ends` (consumed up to
  // the keyword, which is returned in `end`); at top level, until kEnd.
  std::vector<Node> parse_body(const std::set<std::string>& ends, std::string& end) {
    std::vector<Node> nodes;
    while (true) {
      const Token& token = peek();
      if (token.kind == TokenKind::kEnd) {
        if (!ends.empty())
          fail(fmt::format("unexpected end of template, expected one of: {}", fmt::join(ends, ", ")));
        return nodes;
      }
      if (token.kind == TokenKind::kText) {
        Node node = make_node(NodeKind::kText, token.line);
        node.text = token.text;
        nodes.push_back(std::move(node));
        ++pos_;
        continue;
      }
      if (token.kind == TokenKind::kVarBegin) {
        ++pos_;
        Node node = make_node(NodeKind::kOutput, token.line);
        node.expr = parse_expression();
        if (peek().kind != TokenKind::kVarEnd) fail(fmt::format("expected '}}}}', got {}", describe(peek())));
        ++pos_;
        nodes.push_back(std::move(node));
        continue;
      }
      if (token.kind != TokenKind::kBlockBegin) fail(fmt::format("unexpected {}", describe(token)));
      ++pos_;
      const std::string keyword = expect_name();
      if (ends.count(keyword) != 0) {
        end = keyword;
        return nodes;
      }
      if (keyword == "if") {
        nodes.push_back(parse_if(token.line));
      } else if (keyword == "for") {
        nodes.push_back(parse_for(token.line));
      } else if (keyword == "set") {
        nodes.push_back(parse_set(token.line));
      } else if (keyword == "generation") {
        // transformers' AssistantTracker tag: renders its body unchanged.
        expect_block_end();
        std::string inner_end;
        std::vector<Node> body = parse_body({"endgeneration"}, inner_end);
        expect_block_end();
        for (auto& node : body) nodes.push_back(std::move(node));
      } else {
        fail(fmt::format("unsupported or unexpected tag '{}'", keyword));
      }
    }
  }

  Node parse_if(int line) {
    Node node = make_node(NodeKind::kIf, line);
    node.expr = parse_expression();
    expect_block_end();
    std::string end;
    node.body = parse_body({"elif", "else", "endif"}, end);
    if (end == "elif") {
      node.else_body.push_back(parse_if(peek().line));
      return node;  // the nested if consumed endif
    }
    if (end == "else") {
      expect_block_end();
      node.else_body = parse_body({"endif"}, end);
    }
    expect_block_end();
    return node;
  }

  Node parse_for(int line) {
    Node node = make_node(NodeKind::kFor, line);
    node.targets.push_back(expect_name());
    while (at_operator(",")) {
      ++pos_;
      node.targets.push_back(expect_name());
    }
    if (!at_name("in")) fail(fmt::format("expected 'in', got {}", describe(peek())));
    ++pos_;
    // The iterable may not contain a bare conditional (jinja2 parses with_condexpr=False).
    node.expr = parse_or();
    if (at_name("if")) {
      ++pos_;
      node.filter = parse_expression();
    }
    if (at_name("recursive")) fail("recursive loops are not supported");
    expect_block_end();
    std::string end;
    node.body = parse_body({"else", "endfor"}, end);
    if (end == "else") {
      expect_block_end();
      node.else_body = parse_body({"endfor"}, end);
    }
    expect_block_end();
    return node;
  }

  Node parse_set(int line) {
    Node node = make_node(NodeKind::kSet, line);
    node.targets.push_back(expect_name());
    if (at_operator(".")) {
      ++pos_;
      node.attribute = expect_name();
    } else {
      while (at_operator(",")) {
        ++pos_;
        node.targets.push_back(expect_name());
      }
    }
    if (at_operator("=")) {
      ++pos_;
      node.expr = parse_tuple_or_expression();
      expect_block_end();
      return node;
    }
    // Block set: {% set x %}...{% endset %}
    if (!node.attribute.empty() || node.targets.size() != 1) fail("expected '=' in set");
    expect_block_end();
    std::string end;
    node.body = parse_body({"endset"}, end);
    expect_block_end();
    return node;
  }

  // `a, b` without brackets is a tuple (a list here).
  ExprPtr parse_tuple_or_expression() {
    ExprPtr first = parse_expression();
    if (!at_operator(",")) return first;
    auto list = make_expr(ExprKind::kList, first->line);
    list->args.push_back(std::move(first));
    while (at_operator(",")) {
      ++pos_;
      list->args.push_back(parse_expression());
    }
    return list;
  }

  ExprPtr parse_expression() {
    ExprPtr value = parse_or();
    while (at_name("if")) {
      ++pos_;
      auto conditional = make_expr(ExprKind::kConditional, value->line);
      conditional->args.push_back(std::move(value));
      conditional->args.push_back(parse_or());
      if (at_name("else")) {
        ++pos_;
        conditional->args.push_back(parse_expression());
      } else {
        conditional->args.push_back(nullptr);
      }
      value = std::move(conditional);
    }
    return value;
  }

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    while (at_name("or")) {
      ++pos_;
      left = make_binary("or", std::move(left), parse_and());
    }
    return left;
  }

  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    while (at_name("and")) {
      ++pos_;
      left = make_binary("and", std::move(left), parse_not());
    }
    return left;
  }

  ExprPtr parse_not() {
    if (at_name("not")) {
      const int line = next().line;
      auto expr = make_expr(ExprKind::kUnary, line, "not");
      expr->args.push_back(parse_not());
      return expr;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    ExprPtr left = parse_math1();
    while (true) {
      std::string op;
      if (peek().kind == TokenKind::kOperator &&
          (peek().text == "==" || peek().text == "!=" || peek().text == "<" || peek().text == "<=" ||
           peek().text == ">" || peek().text == ">=")) {
        op = next().text;
      } else if (at_name("in")) {
        ++pos_;
        op = "in";
      } else if (at_name("not") && peek(1).kind == TokenKind::kName && peek(1).text == "in") {
        pos_ += 2;
        op = "not in";
      } else {
        return left;
      }
      left = make_binary(op, std::move(left), parse_math1());
    }
  }

  ExprPtr parse_math1() {
    ExprPtr left = parse_concat();
    while (at_operator("+") || at_operator("-")) {
      const std::string op = next().text;
      left = make_binary(op, std::move(left), parse_concat());
    }
    return left;
  }

  ExprPtr parse_concat() {
    ExprPtr left = parse_math2();
    while (at_operator("~")) {
      ++pos_;
      left = make_binary("~", std::move(left), parse_math2());
    }
    return left;
  }

  ExprPtr parse_math2() {
    ExprPtr left = parse_pow();
    while (at_operator("*") || at_operator("/") || at_operator("//") || at_operator("%")) {
      const std::string op = next().text;
      left = make_binary(op, std::move(left), parse_pow());
    }
    return left;
  }

  ExprPtr parse_pow() {
    ExprPtr left = parse_unary();
    while (at_operator("**")) {
      ++pos_;
      left = make_binary("**", std::move(left), parse_unary());
    }
    return left;
  }

  // As in jinja2, `-x | f` is `(-x) | f`: the operand of a sign takes no filters.
  ExprPtr parse_unary(bool with_filters = true) {
    ExprPtr node;
    if (at_operator("-") || at_operator("+")) {
      const Token& token = next();
      node = make_expr(ExprKind::kUnary, token.line, token.text);
      node->args.push_back(parse_unary(false));
    } else {
      node = parse_postfix(parse_primary());
    }
    return with_filters ? parse_filters(std::move(node)) : std::move(node);
  }

  ExprPtr parse_primary() {
    const Token& token = peek();
    if (token.kind == TokenKind::kName) {
      ++pos_;
      auto literal = make_expr(ExprKind::kLiteral, token.line);
      if (token.text == "true" || token.text == "True") {
        literal->literal = Value(true);
      } else if (token.text == "false" || token.text == "False") {
        literal->literal = Value(false);
      } else if (token.text == "none" || token.text == "None") {
        literal->literal = Value(None{});
      } else {
        return make_expr(ExprKind::kName, token.line, token.text);
      }
      return literal;
    }
    if (token.kind == TokenKind::kString) {
      std::string text;
      // Adjacent string literals concatenate, as in Python.
      while (peek().kind == TokenKind::kString) text += next().text;
      auto literal = make_expr(ExprKind::kLiteral, token.line);
      literal->literal = Value(std::move(text));
      return literal;
    }
    if (token.kind == TokenKind::kInteger || token.kind == TokenKind::kFloat) {
      ++pos_;
      auto literal = make_expr(ExprKind::kLiteral, token.line);
      try {
        literal->literal = token.kind == TokenKind::kInteger ? Value(static_cast<int64_t>(std::stoll(token.text)))
                                                             : Value(std::stod(token.text));
      } catch (const std::out_of_range&) {
        fail(fmt::format("number {} out of range", token.text));
      }
      return literal;
    }
    if (at_operator("(")) {
      ++pos_;
      if (at_operator(")")) {
        ++pos_;
        return make_expr(ExprKind::kList, token.line);
      }
      ExprPtr inner = parse_tuple_or_expression();
      expect_operator(")");
      return inner;
    }
    if (at_operator("[")) {
      ++pos_;
      auto list = make_expr(ExprKind::kList, token.line);
      while (!at_operator("]")) {
        list->args.push_back(parse_expression());
        if (!at_operator(",")) break;
        ++pos_;
      }
      expect_operator("]");
      return list;
    }
    if (at_operator("{")) {
      ++pos_;
      auto dict = make_expr(ExprKind::kDict, token.line);
      while (!at_operator("}")) {
        dict->args.push_back(parse_expression());
        expect_operator(":");
        dict->args.push_back(parse_expression());
        if (!at_operator(",")) break;
        ++pos_;
      }
      expect_operator("}");
      return dict;
    }
    fail(fmt::format("expected an expression, got {}", describe(token)));
  }

  ExprPtr parse_postfix(ExprPtr node) {
    while (true) {
      if (at_operator(".")) {
        ++pos_;
        const Token& token = peek();
        auto attribute = make_expr(ExprKind::kAttribute, token.line);
        if (token.kind == TokenKind::kInteger) {
          // x.0 is x[0] in Jinja.
          attribute->kind = ExprKind::kSubscript;
          attribute->args.push_back(std::move(node));
          auto index = make_expr(ExprKind::kLiteral, token.line);
          index->literal = Value(static_cast<int64_t>(std::stoll(next().text)));
          attribute->args.push_back(std::move(index));
        } else {
          attribute->name = expect_name();
          attribute->args.push_back(std::move(node));
        }
        node = std::move(attribute);
      } else if (at_operator("[")) {
        node = parse_subscript(std::move(node));
      } else if (at_operator("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr object) {
    const int line = next().line;  // '['
    std::vector<ExprPtr> parts;
    bool is_slice = false;
    for (int part = 0; part < 3; ++part) {
      if (at_operator(":") || at_operator("]")) {
        parts.push_back(nullptr);
      } else {
        parts.push_back(parse_expression());
      }
      if (!at_operator(":")) break;
      is_slice = true;
      ++pos_;
      if (part == 2) fail("expected ']' after a slice step");
    }
    expect_operator("]");
    auto expr = make_expr(is_slice ? ExprKind::kSlice : ExprKind::kSubscript, line);
    expr->args.push_back(std::move(object));
    if (!is_slice && !parts[0]) fail("empty subscript");
    while (is_slice && parts.size() < 3) parts.push_back(nullptr);
    for (auto& part : parts) expr->args.push_back(std::move(part));
    return expr;
  }

  void parse_arguments(Expr& call) {
    expect_operator("(");
    while (!at_operator(")")) {
      if (peek().kind == TokenKind::kName && peek(1).kind == TokenKind::kOperator && peek(1).text == "=") {
        std::string key = next().text;
        ++pos_;
        call.kwargs.emplace_back(std::move(key), parse_expression());
      } else {
        call.args.push_back(parse_expression());
      }
      if (!at_operator(",")) break;
      ++pos_;
    }
    expect_operator(")");
  }

  ExprPtr parse_call(ExprPtr callee) {
    auto call = make_expr(ExprKind::kCall, callee->line);
    call->args.push_back(std::move(callee));
    parse_arguments(*call);
    return call;
  }

  ExprPtr parse_filters(ExprPtr node) {
    while (true) {
      if (at_operator("|")) {
        ++pos_;
        auto filter = make_expr(ExprKind::kFilter, peek().line);
        filter->name = expect_name();
        while (at_operator(".")) {  // dotted filter names do not exist in our subset
          fail("unexpected '.' after a filter name");
        }
        filter->args.push_back(std::move(node));
        if (at_operator("(")) parse_arguments(*filter);
        node = std::move(filter);
      } else if (at_name("is")) {
        ++pos_;
        auto test = make_expr(ExprKind::kTest, peek().line);
        if (at_name("not")) {
          ++pos_;
          test->negated = true;
        }
        test->name = expect_name();
        test->args.push_back(std::move(node));
        if (at_operator("(")) {
          parse_arguments(*test);
        } else if (peek().kind == TokenKind::kString || peek().kind == TokenKind::kInteger ||
                   peek().kind == TokenKind::kFloat ||
                   (peek().kind == TokenKind::kName && peek().text != "and" && peek().text != "or" &&
                    peek().text != "else" && peek().text != "if" && peek().text != "in" && peek().text != "not" &&
                    peek().text != "is")) {
          // `x is divisibleby 3`, `x is sameas none`: one bare argument.
          test->args.push_back(parse_postfix(parse_primary()));
        }
        node = std::move(test);
      } else if (at_operator("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
};

}  // namespace

std::vector<Node> parse_template(std::string_view source) { return Parser(tokenize_template(source)).parse(); }

}  // namespace abliterate::chat::jinja
