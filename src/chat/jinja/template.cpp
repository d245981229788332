// The Jinja interpreter: see include/abliterate/chat/jinja/template.hpp.
// Scoping follows jinja2: `set` at top level or inside if-blocks writes the
// current scope; every loop iteration gets a fresh scope, so assignments in a
// loop body do not leak out (templates use namespace() for that).
#include "abliterate/chat/jinja/template.hpp"

#include <cmath>
#include <ctime>
#include <optional>
#include <unordered_map>

#include "abliterate/chat/jinja/builtins.hpp"
#include "abliterate/chat/jinja/parser.hpp"
#include "abliterate/common/error.hpp"

namespace abliterate::chat::jinja {

namespace {

constexpr std::string_view kErrorPrefix = "chat template: ";

int64_t python_floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

int64_t int_of(const Value& v) { return v.is_bool() ? (v.as_bool() ? 1 : 0) : v.as_int(); }

Value arithmetic(const std::string& op, const Value& a, const Value& b) {
  if (a.is_undefined()) throw_undefined(a);
  if (b.is_undefined()) throw_undefined(b);
  if (op == "+") {
    if (a.is_string() && b.is_string()) return Value(a.as_string() + b.as_string());
    if (a.is_list() && b.is_list()) {
      List list = a.as_list();
      list.insert(list.end(), b.as_list().begin(), b.as_list().end());
      return Value(std::move(list));
    }
  }
  if (op == "*" && (a.is_string() || a.is_list() || b.is_string() || b.is_list())) {
    const Value& seq = a.is_string() || a.is_list() ? a : b;
    const Value& count = a.is_string() || a.is_list() ? b : a;
    if (count.is_int() || count.is_bool()) {
      const int64_t n = int_of(count);
      if (seq.is_string()) {
        std::string out;
        for (int64_t i = 0; i < n; ++i) out += seq.as_string();
        return Value(std::move(out));
      }
      List out;
      for (int64_t i = 0; i < n; ++i) out.insert(out.end(), seq.as_list().begin(), seq.as_list().end());
      return Value(std::move(out));
    }
  }
  if (!a.is_number() || !b.is_number()) {
    throw InputError(fmt::format("unsupported operand type(s) for {}: '{}' and '{}'", op, a.type_name(),
                                 b.type_name()));
  }
  const bool integral = !a.is_double() && !b.is_double();
  if (op == "/") {
    if (b.as_double() == 0.0) throw InputError("division by zero");
    return Value(a.as_double() / b.as_double());
  }
  if (integral) {
    const int64_t x = int_of(a);
    const int64_t y = int_of(b);
    if (op == "+") return Value(x + y);
    if (op == "-") return Value(x - y);
    if (op == "*") return Value(x * y);
    if (op == "**") {
      if (y < 0) return Value(std::pow(static_cast<double>(x), static_cast<double>(y)));
      int64_t r = 1;
      for (int64_t i = 0; i < y; ++i) r *= x;
      return Value(r);
    }
    if (y == 0) throw InputError("integer division or modulo by zero");
    if (op == "//") return Value(python_floor_div(x, y));
    if (op == "%") return Value(x - python_floor_div(x, y) * y);
  }
  const double x = a.as_double();
  const double y = b.as_double();
  if (op == "+") return Value(x + y);
  if (op == "-") return Value(x - y);
  if (op == "*") return Value(x * y);
  if (op == "**") return Value(std::pow(x, y));
  if (y == 0.0) throw InputError("float division by zero");
  if (op == "//") return Value(std::floor(x / y));
  if (op == "%") {
    double r = std::fmod(x, y);
    if (r != 0.0 && ((r < 0) != (y < 0))) r += y;
    return Value(r);
  }
  throw InputError(fmt::format("unknown operator '{}'", op));
}

bool contains(const Value& container, const Value& item) {
  if (container.is_undefined()) throw_undefined(container);
  if (container.is_string()) {
    if (!item.is_string())
      throw InputError(fmt::format("'in <string>' requires string as left operand, not {}", item.type_name()));
    return container.as_string().find(item.as_string()) != std::string::npos;
  }
  if (container.is_list()) {
    for (const auto& element : container.as_list())
      if (element == item) return true;
    return false;
  }
  if (container.is_map()) return item.is_string() && container.find(item.as_string()) != nullptr;
  throw InputError(fmt::format("argument of type '{}' is not iterable", container.type_name()));
}

// Python's index normalisation for x[i]; nullopt when out of range.
std::optional<size_t> normalize_index(int64_t index, size_t size) {
  if (index < 0) index += static_cast<int64_t>(size);
  if (index < 0 || index >= static_cast<int64_t>(size)) return std::nullopt;
  return static_cast<size_t>(index);
}

// Python's slice semantics (PySlice_AdjustIndices).
List slice_items(const List& items, const Value& start_v, const Value& stop_v, const Value& step_v) {
  const auto n = static_cast<int64_t>(items.size());
  const int64_t step = step_v.is_none() || step_v.is_undefined() ? 1 : int_of(step_v);
  if (step == 0) throw InputError("slice step cannot be zero");
  const auto clamp = [&](const Value& v, int64_t fallback) {
    if (v.is_none() || v.is_undefined()) return fallback;
    int64_t i = int_of(v);
    if (i < 0) {
      i += n;
      if (i < 0) i = step < 0 ? -1 : 0;
    } else if (i >= n) {
      i = step < 0 ? n - 1 : n;
    }
    return i;
  };
  const int64_t start = clamp(start_v, step < 0 ? n - 1 : 0);
  const int64_t stop = clamp(stop_v, step < 0 ? -1 : n);
  List out;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) out.push_back(items[static_cast<size_t>(i)]);
  return out;
}

class Renderer {
 public:
  explicit Renderer(const Map& variables) {
    scopes_.emplace_back();
    for (const auto& [name, value] : variables) scopes_.back()[name] = value;
  }

  void render(const std::vector<Node>& nodes, std::string& out) {
    for (const Node& node : nodes) render_node(node, out);
  }

 private:
  void render_node(const Node& node, std::string& out) {
    try {
      switch (node.kind) {
        case NodeKind::kText: out += node.text; return;
        case NodeKind::kOutput: out += eval(*node.expr).str(); return;
        case NodeKind::kIf:
          render(eval(*node.expr).truthy() ? node.body : node.else_body, out);
          return;
        case NodeKind::kFor: render_for(node, out); return;
        case NodeKind::kSet: render_set(node); return;
      }
    } catch (const InputError& e) {
      const std::string message = e.what();
      if (message.starts_with(kErrorPrefix)) throw;
      throw InputError(fmt::format("{}line {}: {}", kErrorPrefix, node.line, message));
    }
  }

  void render_for(const Node& node, std::string& out) {
    List items;
    for (Value& item : iterate(eval(*node.expr))) {
      if (node.filter) {
        scopes_.emplace_back();
        bind(node.targets, item);
        const bool keep = eval(*node.filter).truthy();
        scopes_.pop_back();
        if (!keep) continue;
      }
      items.push_back(std::move(item));
    }
    if (items.empty()) {
      render(node.else_body, out);
      return;
    }
    const auto length = static_cast<int64_t>(items.size());
    for (int64_t i = 0; i < length; ++i) {
      scopes_.emplace_back();
      Map loop = {{"index", Value(i + 1)},
                  {"index0", Value(i)},
                  {"revindex", Value(length - i)},
                  {"revindex0", Value(length - i - 1)},
                  {"first", Value(i == 0)},
                  {"last", Value(i == length - 1)},
                  {"length", Value(length)},
                  {"depth", Value(1)},
                  {"depth0", Value(0)}};
      if (i > 0) loop.emplace_back("previtem", items[static_cast<size_t>(i - 1)]);
      if (i + 1 < length) loop.emplace_back("nextitem", items[static_cast<size_t>(i + 1)]);
      scopes_.back()["loop"] = Value(std::move(loop));
      bind(node.targets, items[static_cast<size_t>(i)]);
      render(node.body, out);
      scopes_.pop_back();
    }
  }

  void bind(const std::vector<std::string>& targets, const Value& value) {
    if (targets.size() == 1) {
      scopes_.back()[targets[0]] = value;
      return;
    }
    const List parts = iterate(value);
    if (parts.size() != targets.size()) {
      throw InputError(fmt::format("cannot unpack {} values into {} names", parts.size(), targets.size()));
    }
    for (size_t i = 0; i < targets.size(); ++i) scopes_.back()[targets[i]] = parts[i];
  }

  void render_set(const Node& node) {
    if (!node.attribute.empty()) {
      Value target = lookup(node.targets[0]);
      if (!target.is_map()) {
        throw InputError(fmt::format("cannot assign attribute '{}' on '{}': it is a {}, not a namespace",
                                     node.attribute, node.targets[0], target.type_name()));
      }
      target.set(node.attribute, eval(*node.expr));
      return;
    }
    if (!node.expr) {
      std::string text;
      render(node.body, text);
      scopes_.back()[node.targets[0]] = Value(std::move(text));
      return;
    }
    bind(node.targets, eval(*node.expr));
  }

  Value lookup(const std::string& name) const {
    for (auto scope = scopes_.rbegin(); scope != scopes_.rend(); ++scope) {
      const auto found = scope->find(name);
      if (found != scope->end()) return found->second;
    }
    return Value(Undefined{name});
  }

  std::vector<Value> eval_args(const Expr& expr, size_t first) {
    std::vector<Value> args;
    for (size_t i = first; i < expr.args.size(); ++i) args.push_back(eval(*expr.args[i]));
    return args;
  }

  Map eval_kwargs(const Expr& expr) {
    Map kwargs;
    for (const auto& [key, value] : expr.kwargs) kwargs.emplace_back(key, eval(*value));
    return kwargs;
  }

  Value eval(const Expr& expr) {
    switch (expr.kind) {
      case ExprKind::kLiteral: return expr.literal;
      case ExprKind::kName: return lookup(expr.name);
      case ExprKind::kList: return Value(eval_args(expr, 0));
      case ExprKind::kDict: {
        Value map{Map{}};
        for (size_t i = 0; i + 1 < expr.args.size(); i += 2) {
          const Value key = eval(*expr.args[i]);
          map.set(key.str(), eval(*expr.args[i + 1]));
        }
        return map;
      }
      case ExprKind::kAttribute: {
        const Value object = eval(*expr.args[0]);
        if (object.is_undefined()) throw_undefined(object);
        if (object.is_map()) {
          const Value* found = object.find(expr.name);
          if (found != nullptr) return *found;
        }
        return Value(Undefined{expr.name});
      }
      case ExprKind::kSubscript: return subscript(eval(*expr.args[0]), eval(*expr.args[1]));
      case ExprKind::kSlice: {
        const Value object = eval(*expr.args[0]);
        const auto part = [&](size_t i) { return expr.args[i] ? eval(*expr.args[i]) : Value(None{}); };
        const Value start = part(1);
        const Value stop = part(2);
        const Value step = part(3);
        if (object.is_list()) return Value(slice_items(object.as_list(), start, stop, step));
        if (object.is_string()) {
          List chars;
          for (auto& c : utf8_characters(object.as_string())) chars.emplace_back(std::move(c));
          std::string out;
          for (const auto& c : slice_items(chars, start, stop, step)) out += c.as_string();
          return Value(std::move(out));
        }
        if (object.is_undefined()) throw_undefined(object);
        throw InputError(fmt::format("'{}' object is not subscriptable", object.type_name()));
      }
      case ExprKind::kCall: return call(expr);
      case ExprKind::kFilter:
        return apply_filter(expr.name, eval(*expr.args[0]), eval_args(expr, 1), eval_kwargs(expr));
      case ExprKind::kTest: return Value(apply_test(expr.name, eval(*expr.args[0]), eval_args(expr, 1)) != expr.negated);
      case ExprKind::kUnary: {
        const Value operand = eval(*expr.args[0]);
        if (expr.name == "not") return Value(!operand.truthy());
        if (operand.is_undefined()) throw_undefined(operand);
        if (!operand.is_number()) throw InputError(fmt::format("bad operand type for unary {}: '{}'", expr.name, operand.type_name()));
        if (expr.name == "+") return operand.is_double() ? operand : Value(int_of(operand));
        return operand.is_double() ? Value(-operand.as_double()) : Value(-int_of(operand));
      }
      case ExprKind::kBinary: return binary(expr);
      case ExprKind::kConditional: {
        if (eval(*expr.args[1]).truthy()) return eval(*expr.args[0]);
        return expr.args[2] ? eval(*expr.args[2]) : Value(Undefined{"conditional"});
      }
    }
    throw InternalError("jinja: unknown expression kind");
  }

  Value subscript(const Value& object, const Value& key) {
    if (object.is_undefined()) throw_undefined(object);
    if (object.is_map()) {
      const Value* found = key.is_string() ? object.find(key.as_string()) : nullptr;
      return found != nullptr ? *found : Value(Undefined{key.str()});
    }
    if ((object.is_list() || object.is_string()) && (key.is_int() || key.is_bool())) {
      if (object.is_list()) {
        const auto index = normalize_index(int_of(key), object.as_list().size());
        return index ? object.as_list()[*index] : Value(Undefined{key.str()});
      }
      const auto chars = utf8_characters(object.as_string());
      const auto index = normalize_index(int_of(key), chars.size());
      return index ? Value(chars[*index]) : Value(Undefined{key.str()});
    }
    return Value(Undefined{key.str()});
  }

  Value binary(const Expr& expr) {
    const std::string& op = expr.name;
    const Value left = eval(*expr.args[0]);
    if (op == "and") return left.truthy() ? eval(*expr.args[1]) : left;
    if (op == "or") return left.truthy() ? left : eval(*expr.args[1]);
    const Value right = eval(*expr.args[1]);
    if (op == "==") return Value(left == right);
    if (op == "!=") return Value(!(left == right));
    if (op == "<") return Value(python_less(left, right));
    if (op == ">") return Value(python_less(right, left));
    if (op == "<=") return Value(!python_less(right, left));
    if (op == ">=") return Value(!python_less(left, right));
    if (op == "in") return Value(contains(right, left));
    if (op == "not in") return Value(!contains(right, left));
    if (op == "~") return Value(left.str() + right.str());
    return arithmetic(op, left, right);
  }

  Value call(const Expr& expr) {
    const Expr& callee = *expr.args[0];
    const std::vector<Value> args = eval_args(expr, 1);
    const Map kwargs = eval_kwargs(expr);
    if (callee.kind == ExprKind::kAttribute) {
      const Value object = eval(*callee.args[0]);
      if (object.is_undefined()) throw_undefined(object);
      return call_method(object, callee.name, args, kwargs);
    }
    if (callee.kind != ExprKind::kName) throw InputError("this expression is not callable");
    if (!lookup(callee.name).is_undefined())
      throw InputError(fmt::format("'{}' is not callable", callee.name));
    if (callee.name == "raise_exception") {
      throw InputError(fmt::format("{}{}", kErrorPrefix, args.empty() ? std::string() : args[0].str()));
    }
    if (callee.name == "namespace" || callee.name == "dict") {
      Value ns{Map{}};
      for (const auto& arg : args)
        if (arg.is_map())
          for (const auto& [key, value] : arg.as_map()) ns.set(key, value);
      for (const auto& [key, value] : kwargs) ns.set(key, value);
      return ns;
    }
    if (callee.name == "range") {
      for (const auto& arg : args)
        if (!arg.is_int()) throw InputError(fmt::format("range() expects integers, got {}", arg.type_name()));
      int64_t start = 0, stop = 0, step = 1;
      if (args.size() == 1) {
        stop = args[0].as_int();
      } else if (args.size() >= 2) {
        start = args[0].as_int();
        stop = args[1].as_int();
        if (args.size() >= 3) step = args[2].as_int();
      }
      if (step == 0) throw InputError("range() arg 3 must not be zero");
      List out;
      for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) out.emplace_back(i);
      return Value(std::move(out));
    }
    if (callee.name == "strftime_now") {
      // transformers: datetime.now().strftime(format), local time.
      const std::string format = args.empty() ? std::string() : args[0].str();
      const std::time_t now = std::time(nullptr);
      std::tm local{};
      localtime_r(&now, &local);
      char buffer[256];
      const size_t n = std::strftime(buffer, sizeof(buffer), format.c_str(), &local);
      return Value(std::string(buffer, n));
    }
    throw InputError(fmt::format("'{}' is undefined", callee.name));
  }

  std::vector<std::unordered_map<std::string, Value>> scopes_;
};

}  // namespace

Template::Template(std::string_view source)
    : nodes_(std::make_shared<const std::vector<Node>>(parse_template(source))) {}

std::string Template::render(const Map& variables) const {
  Renderer renderer(variables);
  std::string out;
  renderer.render(*nodes_, out);
  return out;
}

}  // namespace abliterate::chat::jinja
