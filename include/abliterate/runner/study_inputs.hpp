// What rank 0 reads before anything is written: the four prompt sets and the
// fingerprint of everything the preparation phase depends on.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "abliterate/config/job.hpp"
#include "abliterate/data/prompt_set.hpp"

namespace abliterate::runner {

struct StudyInputs {
  std::vector<data::Prompt> good;              // direction prompts
  std::vector<data::Prompt> bad;
  std::vector<data::Prompt> good_evaluation;   // KL prompts
  std::vector<data::Prompt> bad_evaluation;    // refusal prompts
};

// Loads the prompt sets and checks the model path exists. Throws InputError
// naming the job file and key.
StudyInputs load_study_inputs(const config::Job& job);

// good[:100] + bad[:100], the direction prompts whose responses give the
// common response prefix (method spec §3.4 step 1).
std::vector<data::Prompt> prefix_detection_prompts(const StudyInputs& inputs);

// [[system, user], ...] as messages carry prompts.
nlohmann::json prompts_to_json(const std::vector<data::Prompt>& prompts, size_t begin, size_t end);
inline nlohmann::json prompts_to_json(const std::vector<data::Prompt>& prompts) {
  return prompts_to_json(prompts, 0, prompts.size());
}

// Fingerprint of model files (a folder's config, tokenizer and template files
// and every weight file, shards included; a GGUF file), the adapter's files,
// prompts and the options that shape the cached preparation (DESIGN.md §2.3).
std::string preparation_fingerprint(const config::Job& job, const StudyInputs& inputs);

}  // namespace abliterate::runner
