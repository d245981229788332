// Optuna's distributions as JSON (spec/optuna-compat.md §3.4).
#include "abliterate/study/distribution.hpp"

#include <cmath>
#include <string>

#include <fmt/format.h>

#include "abliterate/common/error.hpp"

namespace abliterate::study {
namespace {

using nlohmann::json;

// One JSON scalar as Python's json.dumps writes it (ensure_ascii=True). For
// doubles nlohmann and Python agree on the round-trip form ("0.0", "6.8").
std::string dump_scalar(const json& j) { return j.dump(-1, ' ', /*ensure_ascii=*/true); }

std::string dump_double(double x) { return dump_scalar(json(x)); }

const json& require(const json& attributes, const char* key, const std::string& name) {
  ABL_CHECK(attributes.contains(key), FormatError, "{}: attribute \"{}\" is missing", name, key);
  return attributes.at(key);
}

double require_number(const json& attributes, const char* key, const std::string& name) {
  const json& value = require(attributes, key, name);
  ABL_CHECK(value.is_number(), FormatError, "{}: attribute \"{}\": expected a number, got {}", name, key,
            value.dump());
  return value.get<double>();
}

int64_t require_integer(const json& attributes, const char* key, const std::string& name) {
  const json& value = require(attributes, key, name);
  // Optuna writes ints; accept an integral float too (a hand-edited store).
  if (value.is_number_integer()) return value.get<int64_t>();
  ABL_CHECK(value.is_number_float() && std::floor(value.get<double>()) == value.get<double>(), FormatError,
            "{}: attribute \"{}\": expected an integer, got {}", name, key, value.dump());
  return static_cast<int64_t>(value.get<double>());
}

bool optional_bool(const json& attributes, const char* key, const std::string& name) {
  if (!attributes.contains(key)) return false;
  const json& value = attributes.at(key);
  ABL_CHECK(value.is_boolean(), FormatError, "{}: attribute \"{}\": expected true or false, got {}", name, key,
            value.dump());
  return value.get<bool>();
}

// Optuna's constructor checks (distributions.py), so a store we accept is one
// Optuna accepts too.
FloatDistribution checked(FloatDistribution d, const std::string& name) {
  ABL_CHECK(std::isfinite(d.low) && std::isfinite(d.high), FormatError, "{}: low and high must be finite", name);
  ABL_CHECK(d.low <= d.high, FormatError, "{}: expected low <= high, got low={} high={}", name, d.low, d.high);
  ABL_CHECK(!(d.log && d.step), FormatError, "{}: a log distribution cannot have a step", name);
  ABL_CHECK(!d.log || d.low > 0, FormatError, "{}: a log distribution needs low > 0, got {}", name, d.low);
  ABL_CHECK(!d.step || *d.step > 0, FormatError, "{}: expected step > 0, got {}", name, d.step.value_or(0));
  return d;
}

IntDistribution checked(IntDistribution d, const std::string& name) {
  ABL_CHECK(d.low <= d.high, FormatError, "{}: expected low <= high, got low={} high={}", name, d.low, d.high);
  ABL_CHECK(d.step > 0, FormatError, "{}: expected step > 0, got {}", name, d.step);
  ABL_CHECK(!d.log || d.step == 1, FormatError, "{}: a log distribution needs step 1, got {}", name, d.step);
  ABL_CHECK(!d.log || d.low >= 1, FormatError, "{}: a log distribution needs low >= 1, got {}", name, d.low);
  return d;
}

// Built field by field: designated initializers that skip `step` trip
// -Wmissing-field-initializers.
FloatDistribution make_float(double low, double high, bool log, std::optional<double> step) {
  FloatDistribution d;
  d.low = low;
  d.high = high;
  d.log = log;
  d.step = step;
  return d;
}

}  // namespace

json distribution_to_json(const Distribution& d) { return json::parse(distribution_to_json_text(d)); }

std::string distribution_to_json_text(const Distribution& d) {
  // Attribute order is the order Optuna's constructors assign them, which is
  // what `_asdict()` and then json.dumps follow.
  if (const auto* f = std::get_if<FloatDistribution>(&d)) {
    return fmt::format(R"({{"name": "FloatDistribution", "attributes": {{"step": {}, "low": {}, "high": {}, "log": {}}}}})",
                       f->step ? dump_double(*f->step) : "null", dump_double(f->low), dump_double(f->high),
                       f->log ? "true" : "false");
  }
  if (const auto* i = std::get_if<IntDistribution>(&d)) {
    return fmt::format(R"({{"name": "IntDistribution", "attributes": {{"log": {}, "step": {}, "low": {}, "high": {}}}}})",
                       i->log ? "true" : "false", i->step, i->low, i->high);
  }
  const auto& c = std::get<CategoricalDistribution>(d);
  std::string choices;
  for (size_t idx = 0; idx < c.choices.size(); ++idx) {
    if (idx > 0) choices += ", ";
    choices += dump_scalar(json(c.choices[idx]));
  }
  return fmt::format(R"({{"name": "CategoricalDistribution", "attributes": {{"choices": [{}]}}}})", choices);
}

Distribution distribution_from_json(const json& j) {
  ABL_CHECK(j.is_object() && j.contains("name") && j.at("name").is_string() && j.contains("attributes") &&
                j.at("attributes").is_object(),
            FormatError, "distribution: expected {{\"name\": ..., \"attributes\": {{...}}}}, got {}", j.dump());
  const std::string name = j.at("name").get<std::string>();
  const json& a = j.at("attributes");

  if (name == "FloatDistribution") {
    std::optional<double> step;
    if (a.contains("step") && !a.at("step").is_null()) step = require_number(a, "step", name);
    return checked(make_float(require_number(a, "low", name), require_number(a, "high", name),
                              optional_bool(a, "log", name), step),
                   name);
  }
  if (name == "IntDistribution") {
    IntDistribution d{.low = require_integer(a, "low", name),
                      .high = require_integer(a, "high", name),
                      .log = optional_bool(a, "log", name),
                      .step = a.contains("step") ? require_integer(a, "step", name) : 1};
    return checked(d, name);
  }
  if (name == "CategoricalDistribution") {
    const json& choices = require(a, "choices", name);
    ABL_CHECK(choices.is_array() && !choices.empty(), FormatError,
              "{}: \"choices\": expected a non-empty list, got {}", name, choices.dump());
    CategoricalDistribution d;
    for (const json& choice : choices) {
      ABL_CHECK(choice.is_string(), FormatError,
                "{}: choice {} is not a string; abliterate's search spaces use string choices only", name,
                choice.dump());
      d.choices.push_back(choice.get<std::string>());
    }
    return d;
  }
  // Legacy classes that Optuna still parses (§3.4).
  if (name == "UniformDistribution") {
    return checked(make_float(require_number(a, "low", name), require_number(a, "high", name), false, std::nullopt),
                   name);
  }
  if (name == "LogUniformDistribution") {
    return checked(make_float(require_number(a, "low", name), require_number(a, "high", name), true, std::nullopt),
                   name);
  }
  if (name == "DiscreteUniformDistribution") {
    return checked(make_float(require_number(a, "low", name), require_number(a, "high", name), false,
                              require_number(a, "q", name)),
                   name);
  }
  if (name == "IntUniformDistribution") {
    return checked(IntDistribution{.low = require_integer(a, "low", name),
                                   .high = require_integer(a, "high", name),
                                   .step = a.contains("step") ? require_integer(a, "step", name) : 1},
                   name);
  }
  if (name == "IntLogUniformDistribution") {
    return checked(IntDistribution{.low = require_integer(a, "low", name),
                                   .high = require_integer(a, "high", name),
                                   .log = true},
                   name);
  }
  throw FormatError(fmt::format(
      "distribution: unknown name \"{}\" (expected FloatDistribution, IntDistribution or CategoricalDistribution)",
      name));
}

Distribution distribution_from_json_text(const std::string& text) {
  json j = json::parse(text, /*cb=*/nullptr, /*allow_exceptions=*/false);
  ABL_CHECK(!j.is_discarded(), FormatError, "distribution: not valid JSON: {}", text);
  return distribution_from_json(j);
}

bool distributions_compatible(const Distribution& a, const Distribution& b) {
  if (a.index() != b.index()) return false;
  if (const auto* fa = std::get_if<FloatDistribution>(&a)) return fa->log == std::get<FloatDistribution>(b).log;
  if (const auto* ia = std::get_if<IntDistribution>(&a)) return ia->log == std::get<IntDistribution>(b).log;
  return std::get<CategoricalDistribution>(a).choices == std::get<CategoricalDistribution>(b).choices;
}

}  // namespace abliterate::study
