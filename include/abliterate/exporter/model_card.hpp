// The README.md of an exported model, in the layout of Heretic's card
// (method spec §8): the first line names the original model and the tool,
// then the job, the "Abliteration parameters" and "Performance" tables, and
// the original model's card.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "abliterate/config/ablation_params.hpp"

namespace abliterate::exporter {

struct ModelCard {
  std::string original_model;         // the name shown for the original model (its folder or file name)
  std::string tool_version;           // abliterate's version
  std::string job_yaml;               // the job, as YAML
  config::AblationParams params;      // the trial's parameters (min_weight absolute)
  double kl_divergence = 0;           // the trial's, against the original model
  int64_t refusals = 0;               // the trial's, of n_bad_prompts
  int64_t base_refusals = 0;          // the original model's R0
  int64_t n_bad_prompts = 0;          // N
  std::optional<std::string> original_card;  // the input folder's README.md, when it has one
};

// The card's Markdown text. Same input, same bytes.
std::string format_model_card(const ModelCard& card);

}  // namespace abliterate::exporter
