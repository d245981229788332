#include "abliterate/runner/study_inputs.hpp"

#include <algorithm>
#include <filesystem>
#include <set>

#include "abliterate/cache/residual_cache.hpp"
#include "abliterate/common/error.hpp"
#include "abliterate/formats/hf_folder.hpp"
#include "abliterate/formats/json_file.hpp"
#include "abliterate/model/lora_adapter.hpp"

namespace abliterate::runner {

StudyInputs load_study_inputs(const config::Job& job) {
  const std::filesystem::path model_path = job.resolve_input(job.model);
  ABL_CHECK(std::filesystem::exists(model_path), InputError, "{}: model: no such model folder or file: {}",
            job.source_path.string(), model_path.string());
  if (job.adapter) {
    const std::filesystem::path adapter = job.resolve_input(*job.adapter);
    ABL_CHECK(std::filesystem::is_directory(adapter), InputError,
              "{}: adapter: no such adapter folder: {} (expected a PEFT LoRA adapter: {} and {})",
              job.source_path.string(), adapter.string(), model::kAdapterConfigFile, model::kAdapterWeightsFile);
  }
  StudyInputs inputs;
  inputs.good = data::load_prompt_set(job, job.good_prompts, "good_prompts");
  inputs.bad = data::load_prompt_set(job, job.bad_prompts, "bad_prompts");
  inputs.good_evaluation = data::load_prompt_set(job, job.good_evaluation_prompts, "good_evaluation_prompts");
  inputs.bad_evaluation = data::load_prompt_set(job, job.bad_evaluation_prompts, "bad_evaluation_prompts");
  return inputs;
}

std::vector<data::Prompt> prefix_detection_prompts(const StudyInputs& inputs) {
  constexpr size_t kPromptsPerSet = 100;  // Heretic's good_prompts[:100] + bad_prompts[:100]
  std::vector<data::Prompt> prompts;
  for (const std::vector<data::Prompt>* set : {&inputs.good, &inputs.bad}) {
    const size_t n = std::min(set->size(), kPromptsPerSet);
    prompts.insert(prompts.end(), set->begin(), set->begin() + static_cast<std::ptrdiff_t>(n));
  }
  return prompts;
}

nlohmann::json prompts_to_json(const std::vector<data::Prompt>& prompts, size_t begin, size_t end) {
  nlohmann::json out = nlohmann::json::array();
  for (size_t i = begin; i < end; ++i) out.push_back({prompts[i].system, prompts[i].user});
  return out;
}

std::string preparation_fingerprint(const config::Job& job, const StudyInputs& inputs) {
  cache::Fingerprint fp;
  fp.add(fmt::format("abliterate-preparation-v{}", cache::kFormatVersion));
  const std::filesystem::path model_path = job.resolve_input(job.model);
  if (std::filesystem::is_directory(model_path)) {
    for (const char* name : formats::kHfModelFiles) {
      const auto file = model_path / name;
      if (std::filesystem::exists(file)) fp.add(name).add_file(file);
    }
    // A sharded checkpoint's weights are in the shards its index names: a changed shard is another model.
    const auto index = model_path / formats::kHfWeightsIndexFile;
    if (std::filesystem::exists(index)) {
      std::set<std::string> shards;
      const nlohmann::json root = formats::read_json_file(index);
      if (root.contains("weight_map") && root.at("weight_map").is_object()) {
        for (const auto& [tensor, shard] : root.at("weight_map").items()) {
          if (shard.is_string()) shards.insert(shard.get<std::string>());
        }
      }
      for (const std::string& shard : shards) fp.add(shard).add_file(model_path / shard);
    }
  } else {
    fp.add_file(model_path);
  }
  if (job.adapter) {  // a fine-tune is another model: its residuals and baselines are its own
    const std::filesystem::path adapter = job.resolve_input(*job.adapter);
    for (const char* name : {model::kAdapterConfigFile, model::kAdapterWeightsFile}) {
      fp.add(fmt::format("adapter:{}", name)).add_file(adapter / name);
    }
  }
  for (const auto* set : {&inputs.good, &inputs.bad, &inputs.good_evaluation, &inputs.bad_evaluation}) {
    fp.add(fmt::format("set:{}", set->size()));
    for (const data::Prompt& p : *set) fp.add(p.system).add("\x1f").add(p.user).add("\x1e");
  }
  // Options that change residuals, baselines or R0. The batch size does not
  // (left padding and masks make rows independent).
  fp.add(config::to_string(job.dtypes.front()));
  fp.add(fmt::format("winsor:{:.17g} orth:{} maxlen:{}", job.winsorization_quantile, job.orthogonalize_direction,
                     job.max_response_length));
  for (const std::string& marker : job.refusal_markers) fp.add(marker).add("\x1f");
  // The response prefix, given or detected, shapes every prompt (method spec §3.4).
  fp.add(job.response_prefix ? "prefix:" + *job.response_prefix + "\x1e" : std::string("prefix:auto\x1e"));
  for (const config::ChainOfThoughtSkip& skip : job.chain_of_thought_skips) {
    fp.add(skip.start).add("\x1f").add(skip.full).add("\x1e");
  }
  for (const std::filesystem::path& file : fp.sampled_files()) {
    fmt::print("* Cache key: {} is over {} GiB, so its size, modification time and first and last MiB stand for "
               "its contents\n", file.string(), cache::kWholeFileFingerprintBytes >> 30);
  }
  return fp.hex();
}

}  // namespace abliterate::runner
