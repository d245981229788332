// The parameters of one trial's ablation, decoded from the sampler's values
// (method spec §4.4, §5.2, §7.2), and the row-normalization mode it runs in.
// Plain data, shared by the job (enqueued trials), the study (which samples
// them) and the method (which applies them); it knows none of the three.
#pragma once

#include <array>
#include <optional>
#include <string_view>

namespace abliterate::config {

// How ablation treats the row norms of o_proj / down_proj (method spec §5.3,
// DESIGN.md §3).
enum class RowNormalization { none, pre, full };

// The layer-weight kernel of one component (method spec §5.2).
struct ComponentParams {
  double max_weight = 0;             // Wmax
  double max_weight_position = 0;    // P, a float layer index
  double min_weight = 0;             // m, ABSOLUTE (the sampler's fraction times Wmax)
  double min_weight_distance = 1;    // D, in layers

  friend bool operator==(const ComponentParams&, const ComponentParams&) = default;
};

struct AblationParams {
  std::optional<double> direction_index;  // nullopt: "per layer" scope
  ComponentParams attn_o_proj;
  ComponentParams mlp_down_proj;

  friend bool operator==(const AblationParams&, const AblationParams&) = default;
};

// The components under Heretic's names for them, in its order (method spec
// §7.2): the prefixes of its Optuna parameter names, the keys of its
// `parameters` user attr and of the lines it prints for a trial.
struct NamedComponent {
  std::string_view name;
  ComponentParams AblationParams::*params;
};
inline constexpr std::array<NamedComponent, 2> kNamedComponents = {{
    {"attn.o_proj", &AblationParams::attn_o_proj},
    {"mlp.down_proj", &AblationParams::mlp_down_proj},
}};

}  // namespace abliterate::config
