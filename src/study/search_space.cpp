// Heretic's search space and its decoding (method spec §7.2, §7.3).
#include "abliterate/study/search_space.hpp"

#include <algorithm>
#include <map>
#include <string_view>

#include <fmt/format.h>

#include "abliterate/common/error.hpp"
#include "abliterate/study/attribute_names.hpp"

namespace abliterate::study {
namespace {

using nlohmann::json;

// Optuna parameter names and choices (method spec §7.2). The user attr
// kDirectionIndexAttr shares this parameter's spelling but holds the decoded
// index (null for the "per layer" scope), so it is a name of its own.
constexpr std::string_view kDirectionScope = "direction_scope";
constexpr std::string_view kDirectionIndex = "direction_index";
constexpr std::string_view kScopeGlobal = "global";
constexpr std::string_view kScopePerLayer = "per layer";

constexpr std::string_view kMaxWeight = "max_weight";
constexpr std::string_view kMaxWeightPosition = "max_weight_position";
constexpr std::string_view kMinWeight = "min_weight";
constexpr std::string_view kMinWeightDistance = "min_weight_distance";

std::string param_name(std::string_view component, std::string_view field) {
  return fmt::format("{}.{}", component, field);
}

// Heretic's parameters are all plain uniform floats: no log, no step.
FloatDistribution uniform(double low, double high) {
  FloatDistribution d;
  d.low = low;
  d.high = high;
  return d;
}

// The value of `name` in `space`/`values`, or InputError.
double value_of(const std::vector<ParamSpec>& space, const ParamValues& values, std::string_view name) {
  for (size_t idx = 0; idx < space.size(); ++idx) {
    if (space[idx].name == name) return values[idx];
  }
  throw InputError(fmt::format("search space: parameter \"{}\" is missing", name));
}

const ParamSpec& spec_of(const std::vector<ParamSpec>& space, std::string_view name) {
  for (const ParamSpec& spec : space) {
    if (spec.name == name) return spec;
  }
  throw InputError(fmt::format("search space: parameter \"{}\" is missing", name));
}

config::ComponentParams decode_component(const std::vector<ParamSpec>& space, const ParamValues& values,
                                         std::string_view component) {
  config::ComponentParams p;
  p.max_weight = value_of(space, values, param_name(component, kMaxWeight));
  p.max_weight_position = value_of(space, values, param_name(component, kMaxWeightPosition));
  // Heretic samples min_weight as a fraction of max_weight (method spec §7.2).
  p.min_weight = value_of(space, values, param_name(component, kMinWeight)) * p.max_weight;
  p.min_weight_distance = value_of(space, values, param_name(component, kMinWeightDistance));
  return p;
}

json component_json(const config::ComponentParams& p) {
  return json{{std::string(kMaxWeight), p.max_weight},
              {std::string(kMaxWeightPosition), p.max_weight_position},
              {std::string(kMinWeight), p.min_weight},
              {std::string(kMinWeightDistance), p.min_weight_distance}};
}

double number_at(const json& object, std::string_view key, const std::string& place) {
  const std::string k(key);
  ABL_CHECK(object.is_object() && object.contains(k), FormatError, "{}: key \"{}\" is missing", place, k);
  ABL_CHECK(object.at(k).is_number(), FormatError, "{}.{}: expected a number, got {}", place, k,
            object.at(k).dump());
  return object.at(k).get<double>();
}

config::ComponentParams component_from_json(const json& parameters, std::string_view component) {
  const std::string c(component);
  ABL_CHECK(parameters.contains(c), FormatError, "user attr {}: component \"{}\" is missing", kParametersAttr, c);
  const json& p = parameters.at(c);
  const std::string place = fmt::format("user attr {}.{}", kParametersAttr, c);
  return config::ComponentParams{.max_weight = number_at(p, kMaxWeight, place),
                                 .max_weight_position = number_at(p, kMaxWeightPosition, place),
                                 .min_weight = number_at(p, kMinWeight, place),
                                 .min_weight_distance = number_at(p, kMinWeightDistance, place)};
}

}  // namespace

std::vector<ParamSpec> heretic_search_space(int64_t n_layers) {
  ABL_CHECK(n_layers >= 2, InputError, "search space: expected a model with at least 2 layers, got {}", n_layers);
  const double last = static_cast<double>(n_layers - 1);

  std::vector<ParamSpec> space;
  space.push_back({std::string(kDirectionScope),
                   CategoricalDistribution{{std::string(kScopeGlobal), std::string(kScopePerLayer)}}});
  // Refusal directions separate best slightly past the middle (Heretic's comment).
  space.push_back({std::string(kDirectionIndex), uniform(0.4 * last, 0.9 * last)});
  for (const auto& [component, member] : config::kNamedComponents) {
    space.push_back({param_name(component, kMaxWeight), uniform(0.8, 1.5)});
    space.push_back({param_name(component, kMaxWeightPosition), uniform(0.6 * last, 1.0 * last)});
    space.push_back({param_name(component, kMinWeight), uniform(0.0, 1.0)});
    // v1.2.0 uses [1, 0.6·last], which is empty (low > high) for models with
    // fewer than 3 layers; Heretic HEAD clamps the upper bound with max(…, 1),
    // and we follow HEAD so tiny test models get a valid space (method spec §7.2).
    space.push_back({param_name(component, kMinWeightDistance), uniform(1.0, std::max(0.6 * last, 1.0))});
  }
  return space;
}

config::AblationParams decode_params(const std::vector<ParamSpec>& space, const ParamValues& values) {
  ABL_CHECK(space.size() == values.size(), InputError,
            "search space: expected one value per parameter ({}), got {}", space.size(), values.size());
  config::AblationParams params;

  const ParamSpec& scope_spec = spec_of(space, kDirectionScope);
  const auto* scope = std::get_if<CategoricalDistribution>(&scope_spec.distribution);
  ABL_CHECK(scope != nullptr, InputError, "search space: \"{}\" must be categorical", kDirectionScope);
  const double scope_value = value_of(space, values, kDirectionScope);
  const auto choice_idx = static_cast<int64_t>(scope_value);
  ABL_CHECK(scope_value >= 0 && choice_idx < static_cast<int64_t>(scope->choices.size()) &&
                static_cast<double>(choice_idx) == scope_value,
            InputError, "search space: \"{}\": expected a choice index below {}, got {}", kDirectionScope,
            scope->choices.size(), scope_value);
  const std::string& choice = scope->choices[static_cast<size_t>(choice_idx)];
  ABL_CHECK(choice == kScopeGlobal || choice == kScopePerLayer, InputError,
            "search space: \"{}\": expected \"{}\" or \"{}\", got \"{}\"", kDirectionScope, kScopeGlobal,
            kScopePerLayer, choice);

  // Heretic always samples direction_index (it keeps the call order fixed)
  // and drops it for the "per layer" scope (method spec §4.4).
  const double direction_index = value_of(space, values, kDirectionIndex);
  if (choice == kScopeGlobal) params.direction_index = direction_index;

  for (const auto& [component, member] : config::kNamedComponents) {
    params.*member = decode_component(space, values, component);
  }
  return params;
}

ParamValues encode_params(const std::vector<ParamSpec>& space, const config::AblationParams& params,
                          const std::string& place) {
  std::map<std::string, double> by_name;
  const auto& scope = std::get<CategoricalDistribution>(spec_of(space, kDirectionScope).distribution);
  const std::string_view choice = params.direction_index ? kScopeGlobal : kScopePerLayer;
  by_name[std::string(kDirectionScope)] = static_cast<double>(
      std::find(scope.choices.begin(), scope.choices.end(), choice) - scope.choices.begin());
  const auto& index_range = std::get<FloatDistribution>(spec_of(space, kDirectionIndex).distribution);
  by_name[std::string(kDirectionIndex)] = params.direction_index.value_or((index_range.low + index_range.high) / 2);
  for (const auto& [component, member] : config::kNamedComponents) {
    const config::ComponentParams& p = params.*member;
    by_name[param_name(component, kMaxWeight)] = p.max_weight;
    by_name[param_name(component, kMaxWeightPosition)] = p.max_weight_position;
    // The sampler's min_weight is a fraction of max_weight (method spec §7.2).
    by_name[param_name(component, kMinWeight)] = p.max_weight > 0 ? p.min_weight / p.max_weight : 0;
    by_name[param_name(component, kMinWeightDistance)] = p.min_weight_distance;
  }
  ParamValues values;
  for (const ParamSpec& spec : space) {
    const auto found = by_name.find(spec.name);
    ABL_CHECK(found != by_name.end(), InputError, "{}: the search space's parameter \"{}\" has no value", place,
              spec.name);
    if (const auto* range = std::get_if<FloatDistribution>(&spec.distribution)) {
      // min_weight is checked as the sampler holds it, a fraction of max_weight.
      const std::string label = spec.name.ends_with(kMinWeight) ? spec.name + " / max_weight" : spec.name;
      ABL_CHECK(found->second >= range->low && found->second <= range->high, InputError,
                "{}: {} = {} lies outside this model's search space [{}, {}]", place, label, found->second,
                range->low, range->high);
    }
    values.push_back(found->second);
  }
  return values;
}

json fixed_params_attr(const std::vector<ParamSpec>& space, const ParamValues& values) {
  ABL_CHECK(space.size() == values.size(), InputError,
            "search space: expected one value per parameter ({}), got {}", space.size(), values.size());
  json fixed = json::object();
  for (size_t idx = 0; idx < space.size(); ++idx) {
    if (const auto* categorical = std::get_if<CategoricalDistribution>(&space[idx].distribution)) {
      fixed[space[idx].name] = categorical->choices.at(static_cast<size_t>(values[idx]));
    } else {
      fixed[space[idx].name] = values[idx];
    }
  }
  return fixed;
}

json ablation_user_attrs(const config::AblationParams& params) {
  json attrs = json::object();
  attrs[std::string(kDirectionIndexAttr)] =
      params.direction_index ? json(*params.direction_index) : json(nullptr);
  json& components = attrs[std::string(kParametersAttr)] = json::object();
  for (const auto& [component, member] : config::kNamedComponents) {
    components[std::string(component)] = component_json(params.*member);
  }
  return attrs;
}

config::AblationParams ablation_params_from_user_attrs(const json& user_attrs) {
  const std::string index_key(kDirectionIndexAttr);
  const std::string parameters_key(kParametersAttr);
  ABL_CHECK(user_attrs.is_object() && user_attrs.contains(index_key), FormatError,
            "user attrs: key \"{}\" is missing", index_key);
  ABL_CHECK(user_attrs.contains(parameters_key) && user_attrs.at(parameters_key).is_object(), FormatError,
            "user attrs: key \"{}\" is missing or not an object", parameters_key);
  config::AblationParams params;
  const json& index = user_attrs.at(index_key);
  ABL_CHECK(index.is_null() || index.is_number(), FormatError,
            "user attr {}: expected a number or null, got {}", index_key, index.dump());
  if (index.is_number()) params.direction_index = index.get<double>();
  for (const auto& [component, member] : config::kNamedComponents) {
    params.*member = component_from_json(user_attrs.at(parameters_key), component);
  }
  return params;
}

}  // namespace abliterate::study
