// Heretic's search space (method spec §7.2), derived from the layer count, and
// the decoding of sampled values into ablation parameters.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "abliterate/config/ablation_params.hpp"
#include "abliterate/study/distribution.hpp"

namespace abliterate::study {

struct ParamSpec {
  std::string name;  // Heretic's exact spelling, e.g. "attn.o_proj.max_weight"
  Distribution distribution;
};

// Parameters in Heretic's suggest order: direction_scope, direction_index,
// then per component max_weight, max_weight_position, min_weight,
// min_weight_distance. Throws InputError when n_layers < 2.
std::vector<ParamSpec> heretic_search_space(int64_t n_layers);

// Internal-repr values, one per ParamSpec in order.
using ParamValues = std::vector<double>;

// Finds each parameter by name, so the order of `space` does not matter.
// "per layer" scope gives direction_index nullopt; min_weight becomes
// absolute (fraction · max_weight). Throws InputError when `values` does not
// match `space` or a Heretic parameter is missing.
config::AblationParams decode_params(const std::vector<ParamSpec>& space, const ParamValues& values);

// The inverse of decode_params: the values that run `params` (enqueue_trials).
// "per layer" gets direction_index at the middle of its range, since Heretic
// samples that parameter for every scope and ignores it there. Throws
// InputError, naming `place` and the parameter, for a value outside its range.
ParamValues encode_params(const std::vector<ParamSpec>& space, const config::AblationParams& params,
                          const std::string& place);

// Optuna's `fixed_params` system attr of an enqueued trial: external values by
// name, categoricals as their choice.
nlohmann::json fixed_params_attr(const std::vector<ParamSpec>& space, const ParamValues& values);

// Heretic's trial user attrs `direction_index` and `parameters` for `params`.
nlohmann::json ablation_user_attrs(const config::AblationParams& params);

// The inverse of ablation_user_attrs: reads `direction_index` (number or
// null) and `parameters` from a trial's user attrs, as Heretic restores a
// trial (method spec §7.5). Throws FormatError naming the missing key.
config::AblationParams ablation_params_from_user_attrs(const nlohmann::json& user_attrs);

}  // namespace abliterate::study
