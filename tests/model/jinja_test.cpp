// The Jinja interpreter (spec/model-runtime.md §2-3). Expected strings are
// what Python jinja2 3.1.6 renders with ImmutableSandboxedEnvironment(
// trim_blocks=True, lstrip_blocks=True) and HF's tojson/raise_exception.
#include <gtest/gtest.h>

#include "abliterate/chat/jinja/template.hpp"
#include "abliterate/common/error.hpp"
#include "support/throws_with.hpp"

namespace abliterate::chat::jinja {
namespace {

std::string render(std::string_view source, const nlohmann::json& variables = nlohmann::json::object()) {
  return Template(source).render(Value::from_json(variables).as_map());
}

TEST(JinjaTest, TextOutputAndComments) {
  EXPECT_EQ(render("a{{ 1 + 2 }}b{# gone #}c"), "a3bc");
  EXPECT_EQ(render("{{ x }}|{{ y }}", {{"x", "hi"}}), "hi|");  // undefined prints as ""
  EXPECT_EQ(render("{{ '{{' }}"), "{{");
  EXPECT_EQ(render("{{ {'a': {'b': 1}}['a']['b'] }}"), "1");
}

TEST(JinjaTest, PythonPrinting) {
  EXPECT_EQ(render("{{ true }} {{ False }} {{ none }} {{ 1.0 }} {{ 2.0 * 3 }} {{ 1 / 3 }} {{ 7 // 2 }} {{ -7 % 3 }}"),
            "True False None 1.0 6.0 0.3333333333333333 3 2");
  EXPECT_EQ(render("{{ [1, 'a', none] }} {{ {'k': \"it's\"} }}"), "[1, 'a', None] {'k': \"it's\"}");
  EXPECT_EQ(render("{{ 'a' ~ 1.5 ~ true }}"), "a1.5True");
}

TEST(JinjaTest, TrimBlocksAndLstripBlocks) {
  // The newline after a block tag goes; indentation before a block tag goes.
  EXPECT_EQ(render("{% if true %}\n  x\n  {% endif %}\ny"), "  x\ny");
  // Not before a variable tag, and not when text precedes the tag on its line.
  EXPECT_EQ(render("  {{ 1 }}\n a {% if true %}b{% endif %}"), "  1\n a b");
  // `+` keeps the indentation and the newline; `-` strips all whitespace.
  EXPECT_EQ(render("  {%+ if true +%}\nx{% endif %}"), "  \nx");
  EXPECT_EQ(render("a  \n {%- if true -%}  \n b {{- 'c' -}} \n d{% endif %}"), "abcd");
  // One trailing newline of the template is dropped; \r\n becomes \n.
  EXPECT_EQ(render("a\r\nb\n"), "a\nb");
  EXPECT_EQ(render("{# c #}\nx"), "x");
}

TEST(JinjaTest, ForLoopVariablesFilterAndElse) {
  EXPECT_EQ(render("{% for x in xs %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}"
                   "{{ loop.length }}{{ x }};{% endfor %}",
                   {{"xs", {"a", "b"}}}),
            "10TrueFalse2a;21FalseTrue2b;");
  EXPECT_EQ(render("{% for x in xs if x > 1 %}{{ loop.index }}:{{ x }} {% endfor %}", {{"xs", {1, 2, 3}}}),
            "1:2 2:3 ");
  EXPECT_EQ(render("{% for x in [] %}a{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(render("{% for k, v in d.items() %}{{ k }}={{ v }},{% endfor %}", {{"d", {{"a", 1}, {"b", 2}}}}),
            "a=1,b=2,");
  // Assignments inside a loop body do not leak out; each iteration starts afresh.
  EXPECT_EQ(render("{% set x = 0 %}{% for i in [1,2,3] %}{{ x }}{% set x = i %}{{ x }}|{% endfor %}{{ x }}"),
            "01|02|03|0");
}

TEST(JinjaTest, NamespaceCarriesStateOutOfLoops) {
  EXPECT_EQ(render("{% set ns = namespace(n=0, s='') %}{% for i in range(4) %}{% set ns.n = ns.n + i %}"
                   "{% endfor %}{{ ns.n }}"),
            "6");
  ASSERT_THROWS_WITH(render("{% set x = 1 %}{% set x.y = 2 %}"), InputError, "not a namespace");
}

TEST(JinjaTest, IfElifElseAndTernary) {
  const char* source = "{% if n == 1 %}one{% elif n == 2 %}two{% else %}many{% endif %}";
  EXPECT_EQ(render(source, {{"n", 1}}), "one");
  EXPECT_EQ(render(source, {{"n", 2}}), "two");
  EXPECT_EQ(render(source, {{"n", 5}}), "many");
  EXPECT_EQ(render("{{ 'a' if x else 'b' }}{{ 'c' if not x }}", {{"x", false}}), "bc");
  EXPECT_EQ(render("{{ x or 'd' }}{{ 0 and 1 }}{{ 1 and 'y' }}", {{"x", ""}}), "d0y");
}

TEST(JinjaTest, SubscriptsAndSlices) {
  const nlohmann::json vars = {{"xs", {10, 20, 30, 40}}, {"s", "h\xC3\xA9llo"}, {"m", {{"k", "v"}}}};
  EXPECT_EQ(render("{{ xs[0] }} {{ xs[-1] }} {{ xs[1:] }} {{ xs[::-1] }} {{ xs[1:3] }} {{ xs[:-2] }}", vars),
            "10 40 [20, 30, 40] [40, 30, 20, 10] [20, 30] [10, 20]");
  EXPECT_EQ(render("{{ s[1] }} {{ s[::-1] }} {{ s|length }}", vars), "\xC3\xA9 oll\xC3\xA9h 5");
  EXPECT_EQ(render("{{ m.k }}{{ m['k'] }}{{ m.missing is defined }}{{ xs[9] is undefined }}", vars), "vvFalseTrue");
  ASSERT_THROWS_WITH(render("{{ nothing.k }}"), InputError, "'nothing' is undefined");
}

TEST(JinjaTest, OperatorsAndComparisons) {
  EXPECT_EQ(render("{{ 'a' in 'cat' }}{{ 2 in [1, 2] }}{{ 'k' not in {'k': 1} }}{{ 1 == 1.0 }}{{ 'b' > 'a' }}"),
            "TrueTrueFalseTrueTrue");
  EXPECT_EQ(render("{{ [1] + [2] }}{{ 'ab' * 2 }}{{ 2 ** 10 }}{{ -(3) }}"), "[1, 2]abab1024-3");
  ASSERT_THROWS_WITH(render("{{ 'a' + 1 }}"), InputError, "unsupported operand type(s) for +: 'str' and 'int'");
  ASSERT_THROWS_WITH(render("{{ x + 1 }}"), InputError, "'x' is undefined");
}

TEST(JinjaTest, Tests) {
  EXPECT_EQ(render("{{ x is defined }}{{ y is undefined }}{{ none is none }}{{ 's' is string }}{{ 1 is number }}"
                   "{{ [] is iterable }}{{ {} is mapping }}{{ 's' is sequence }}{{ true is boolean }}"
                   "{{ true is true }}{{ 0 is false }}{{ 2 is even }}{{ 3 is odd }}{{ 1 is not string }}",
                   {{"x", 1}}),
            "TrueTrueTrueTrueTrueTrueTrueTrueTrueTrueFalseTrueTrueTrue");
}

TEST(JinjaTest, Filters) {
  EXPECT_EQ(render("{{ '  a b \n' | trim }}|{{ 'aBc' | upper }}{{ 'aBc' | lower }}|{{ 'hello world' | title }}|"
                   "{{ 'hELLO' | capitalize }}|{{ 'aaa' | replace('a', 'b') }}|{{ [1, 2] | join(', ') }}"),
            "a b|ABCabc|Hello World|Hello|bbb|1, 2");
  EXPECT_EQ(render("{{ x | default('d') }}{{ '' | d('e', true) }}{{ [3, 4] | first }}{{ [3, 4] | last }}"
                   "{{ 'ab' | list }}{{ 5 | string }}{{ '7' | int + 1 }}{{ '1.5' | float }}{{ [1, 2] | length }}"),
            "de34['a', 'b']581.52");
  EXPECT_EQ(render("{{ d | items | list }}", {{"d", {{"a", 1}}}}), "[['a', 1]]");
  const nlohmann::json people = {{"people", {{{"name", "A"}, {"ok", true}}, {{"name", "B"}, {"ok", false}}}}};
  EXPECT_EQ(render("{{ people | selectattr('ok') | map(attribute='name') | join }}"
                   "{{ people | rejectattr('ok') | map(attribute='name') | list }}"
                   "{{ people | selectattr('name', 'equalto', 'B') | list | length }}",
                   people),
            "A['B']1");
  ASSERT_THROWS_WITH(render("{{ 1 | nosuchfilter }}"), InputError, "unknown filter 'nosuchfilter'");
}

TEST(JinjaTest, ToJsonMatchesHfSettings) {
  // Keys keep their insertion order (json.dumps with sort_keys=False).
  nlohmann::ordered_json v;
  v["b"] = "\xC3\xA9\"\n";
  v["a"] = {1, 2.5, nullptr, true};
  const Map vars = {{"v", Value::from_json(v)}};
  EXPECT_EQ(Template("{{ v | tojson }}").render(vars), "{\"b\": \"\xC3\xA9\\\"\\n\", \"a\": [1, 2.5, null, true]}");
  EXPECT_EQ(Template("{{ v | tojson(indent=2) }}").render(vars),
            "{\n  \"b\": \"\xC3\xA9\\\"\\n\",\n  \"a\": [\n    1,\n    2.5,\n    null,\n    true\n  ]\n}");
}

TEST(JinjaTest, StringAndDictMethods) {
  EXPECT_EQ(render("{{ ' x '.strip() }}|{{ 'xxaxx'.lstrip('x') }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|"
                   "{{ 'abc'.startswith('ab') }}{{ 'abc'.endswith(('x', 'c')) }}|{{ 'Ab'.upper() }}{{ 'Ab'.lower() }}|"
                   "{{ 'a-a'.replace('-', '+') }}|{{ 'ab cd'.title() }}|{{ 'xa'.rstrip('a') }}"),
            "x|axx|['a', 'b', '', 'c']|['a', 'b']|TrueTrue|ABab|a+a|Ab Cd|x");
  EXPECT_EQ(render("{{ d.get('a') }}{{ d.get('z', 9) }}{{ d.get('z') }}{{ d.keys() | list }}{{ d.values() | list }}"
                   "{% for k, v in d.items() %}{{ k }}{{ v }}{% endfor %}",
                   {{"d", {{"a", 1}}}}),
            "19None['a'][1]a1");
}

TEST(JinjaTest, SetBlockAndTupleAssignment) {
  EXPECT_EQ(render("{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set t %}x{{ a }}{% endset %}[{{ t }}]"), "12[x1]");
}

TEST(JinjaTest, RaiseExceptionIsAnInputErrorWithTheMessage) {
  ASSERT_THROWS_WITH(render("{% if true %}{{ raise_exception('Bad roles!') }}{% endif %}"), InputError,
                     "chat template: Bad roles!");
}

TEST(JinjaTest, SyntaxErrorsNameTheLine) {
  ASSERT_THROWS_WITH(Template("a\n{% if x %}b"), FormatError, "unexpected end of template");
  ASSERT_THROWS_WITH(Template("a\n\n{{ 1 + }}"), FormatError, "line 3");
  ASSERT_THROWS_WITH(Template("{% macro m() %}{% endmacro %}"), FormatError, "unsupported or unexpected tag 'macro'");
  ASSERT_THROWS_WITH(Template("{{ 'abc }}"), FormatError, "unterminated");
  ASSERT_THROWS_WITH(Template("{% for x in y %}{% endif %}"), FormatError, "endif");
}

TEST(JinjaTest, RuntimeErrorsNameTheLine) {
  ASSERT_THROWS_WITH(render("a\n{{ 1 + 'x' }}"), InputError, "chat template: line 2:");
}

}  // namespace
}  // namespace abliterate::chat::jinja
