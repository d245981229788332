// Optuna's parameter distributions and their JSON (spec/optuna-compat.md §3.4).
// Values travel in Optuna's internal representation: floats as themselves,
// ints as float, categoricals as the index into choices.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace abliterate::study {

struct FloatDistribution {
  double low = 0;
  double high = 1;
  bool log = false;
  std::optional<double> step;
  bool operator==(const FloatDistribution&) const = default;
};

struct IntDistribution {
  int64_t low = 0;
  int64_t high = 1;
  bool log = false;
  int64_t step = 1;
  bool operator==(const IntDistribution&) const = default;
};

struct CategoricalDistribution {
  std::vector<std::string> choices;  // our spaces only use strings
  bool operator==(const CategoricalDistribution&) const = default;
};

using Distribution = std::variant<FloatDistribution, IntDistribution, CategoricalDistribution>;

// {"name": "FloatDistribution", "attributes": {...}} as Optuna writes it.
nlohmann::json distribution_to_json(const Distribution& d);
// Throws FormatError on JSON that is not one of Optuna's distributions.
// Also reads Optuna's legacy names (UniformDistribution, LogUniformDistribution,
// DiscreteUniformDistribution, IntUniformDistribution, IntLogUniformDistribution)
// and checks Optuna's constraints (low <= high, log needs low > 0, ...).
Distribution distribution_from_json(const nlohmann::json& j);

// The exact text Python's json.dumps writes for Optuna's distribution_json
// column: Optuna's attribute order, ", " and ": " separators, ASCII escapes,
// e.g. {"name": "FloatDistribution", "attributes": {"step": null, "low": 0.0,
// "high": 1.0, "log": false}}.
std::string distribution_to_json_text(const Distribution& d);
// Parses a distribution_json column; FormatError on bad JSON or distribution.
Distribution distribution_from_json_text(const std::string& text);

// Optuna's check_distribution_compatibility (§3.4): same class, same `log`,
// identical categorical choices. Ranges may differ.
bool distributions_compatible(const Distribution& a, const Distribution& b);

}  // namespace abliterate::study
