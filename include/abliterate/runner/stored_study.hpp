// A finished (or running) study opened again outside its run, so that one of
// its trials can be applied to the model: the job it ran with, the refusal
// directions from the job's cache, and the trials from the store. `chat
// --store` uses it; `export` will.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "abliterate/cache/residual_cache.hpp"
#include "abliterate/config/ablation_params.hpp"
#include "abliterate/config/job.hpp"
#include "abliterate/study/trial.hpp"

namespace abliterate::runner {

struct StoredStudy {
  std::filesystem::path store_path;
  std::string study_name;
  config::Job job;                   // the job file given, or the store's settings
  std::string fingerprint;           // of the job's inputs (preparation_fingerprint): the cache key
  cache::Preparation preparation;    // directions of the job's inputs, from its cache
  std::vector<study::Trial> trials;  // by number
};

// Opens `store_path` read-only (a run may hold it) and reads the study's
// trials. The job is `job_path` when given, and must match the study's stored
// settings (as a resume must); else the stored settings themselves, with
// relative inputs resolved against the store's folder. The directions come
// from the job's cache, checked against the fingerprint of the job's inputs.
// Throws InputError naming the store, study, job or cache: a missing store, a
// study that is absent or ambiguous, settings that differ, no cache or one
// made for other inputs (run `abliterate run` first).
StoredStudy open_stored_study(const std::filesystem::path& store_path, const std::optional<std::string>& job_path,
                              const std::optional<std::string>& study_name);

// The ablation parameters of trial `number` (a stored trial number, as
// `status` prints it). Throws InputError naming the store and the trial when
// the study has no such trial or the trial holds no parameters.
config::AblationParams stored_trial_params(const StoredStudy& study, int64_t number);

}  // namespace abliterate::runner
