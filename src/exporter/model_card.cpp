#include "abliterate/exporter/model_card.hpp"

#include <fmt/format.h>

namespace abliterate::exporter {

std::string format_model_card(const ModelCard& card) {
  std::string out = fmt::format("# This is a decensored version of {}, made using abliterate {}\n\n",
                                card.original_model, card.tool_version);
  out += "## Configuration\n\n```yaml\n" + card.job_yaml;
  if (!card.job_yaml.empty() && card.job_yaml.back() != '\n') out += '\n';
  out += "```\n\n";

  out += "## Abliteration parameters\n\n| Parameter | Value |\n| :-------- | :---: |\n";
  out += fmt::format("| **direction_index** | {} |\n",
                     card.params.direction_index ? fmt::format("{:.2f}", *card.params.direction_index) : "per layer");
  for (const config::NamedComponent& component : config::kNamedComponents) {
    const config::ComponentParams& p = card.params.*component.params;
    out += fmt::format("| **{}.max_weight** | {:.2f} |\n", component.name, p.max_weight);
    out += fmt::format("| **{}.max_weight_position** | {:.2f} |\n", component.name, p.max_weight_position);
    out += fmt::format("| **{}.min_weight** | {:.2f} |\n", component.name, p.min_weight);
    out += fmt::format("| **{}.min_weight_distance** | {:.2f} |\n", component.name, p.min_weight_distance);
  }

  out += fmt::format("\n## Performance\n\n| Metric | This model | Original model ({}) |\n"
                     "| :----- | :--------: | :---------------------------: |\n",
                     card.original_model);
  out += fmt::format("| **KL divergence** | {:.4f} | 0 *(by definition)* |\n", card.kl_divergence);
  out += fmt::format("| **Refusals** | {}/{} | {}/{} |\n", card.refusals, card.n_bad_prompts, card.base_refusals,
                     card.n_bad_prompts);
  if (card.original_card) out += "\n-----\n\n" + *card.original_card;
  if (out.back() != '\n') out += '\n';
  return out;
}

}  // namespace abliterate::exporter
