// The one table of job-file key names (STYLE.md §2 config, the llama-arch.h
// pattern): the loader, job_to_json/job_from_json and messages spell keys only
// through it, and a test checks that it lists exactly the properties of
// schemas/job.schema.json, in the same order.
#pragma once

#include <array>
#include <cstddef>

namespace abliterate::config {

// Every top-level key of a job file, in schema order.
enum class JobKey {
  model,
  adapter,
  evaluate_model,
  dtypes,
  quantization,
  device,
  device_map,
  max_memory,
  trust_remote_code,
  batch_size,
  max_batch_size,
  max_response_length,
  print_responses,
  response_prefix,
  chain_of_thought_skips,
  kl_divergence_scale,
  kl_divergence_target,
  orthogonalize_direction,
  row_normalization,
  full_normalization_lora_rank,
  winsorization_quantile,
  objectives,
  print_residual_geometry,
  plot_residuals,
  residual_plot_path,
  residual_plot_title,
  residual_plot_style,
  n_trials,
  n_startup_trials,
  sampler,
  study_name,
  seed,
  grace_period,
  worker_timeout,
  trials_per_worker,
  study_checkpoint_dir,
  enqueue_trials,
  refusal_markers,
  system_prompt,
  good_prompts,
  bad_prompts,
  good_evaluation_prompts,
  bad_evaluation_prompts,
  store,
  cache,
  output,
};

inline constexpr std::array<const char*, 46> kJobKeyNames = {
    "model",
    "adapter",
    "evaluate_model",
    "dtypes",
    "quantization",
    "device",
    "device_map",
    "max_memory",
    "trust_remote_code",
    "batch_size",
    "max_batch_size",
    "max_response_length",
    "print_responses",
    "response_prefix",
    "chain_of_thought_skips",
    "kl_divergence_scale",
    "kl_divergence_target",
    "orthogonalize_direction",
    "row_normalization",
    "full_normalization_lora_rank",
    "winsorization_quantile",
    "objectives",
    "print_residual_geometry",
    "plot_residuals",
    "residual_plot_path",
    "residual_plot_title",
    "residual_plot_style",
    "n_trials",
    "n_startup_trials",
    "sampler",
    "study_name",
    "seed",
    "grace_period",
    "worker_timeout",
    "trials_per_worker",
    "study_checkpoint_dir",
    "enqueue_trials",
    "refusal_markers",
    "system_prompt",
    "good_prompts",
    "bad_prompts",
    "good_evaluation_prompts",
    "bad_evaluation_prompts",
    "store",
    "cache",
    "output",
};
static_assert(static_cast<std::size_t>(JobKey::output) + 1 == kJobKeyNames.size(),
              "kJobKeyNames must name every JobKey");

constexpr const char* key_name(JobKey key) { return kJobKeyNames[static_cast<std::size_t>(key)]; }

// The keys of one prompt set (good_prompts, bad_prompts, ...), in schema order.
enum class PromptSetKey {
  dataset,
  split,
  column,
  prefix,
  suffix,
  system_prompt,
  residual_plot_label,
  residual_plot_color,
};

inline constexpr std::array<const char*, 8> kPromptSetKeyNames = {
    "dataset", "split",         "column",          "prefix", "suffix", "system_prompt", "residual_plot_label",
    "residual_plot_color",
};
static_assert(static_cast<std::size_t>(PromptSetKey::residual_plot_color) + 1 == kPromptSetKeyNames.size(),
              "kPromptSetKeyNames must name every PromptSetKey");

constexpr const char* key_name(PromptSetKey key) { return kPromptSetKeyNames[static_cast<std::size_t>(key)]; }

}  // namespace abliterate::config
