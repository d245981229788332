// Module exporter: a trial taken away: the HF model folder with the ablation in its weights, and its card.
// Must not know: MPI or the sampler; it reads a stored study (runner::StoredStudy) and writes files.
//
// `abliterate export`: a study's trial written as a Hugging Face model folder
// that transformers loads with AutoModelForCausalLM.from_pretrained: the
// weights with the ablation materialized (method::materialize, all three
// row normalizations), the config, tokenizer and chat template files (copied
// from an HF folder, written from a GGUF file's metadata), the model card
// (README.md) and abliterate.json, which records what was exported so that
// `export --from` redoes it byte for byte.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "abliterate/config/job.hpp"
#include "abliterate/runner/stored_study.hpp"
#include "abliterate/study/trial.hpp"

namespace abliterate::exporter {

// transformers' default max_shard_size, "5GB".
inline constexpr uint64_t kDefaultMaxShardBytes = 5'000'000'000;

struct ExportOptions {
  std::filesystem::path out;                   // the folder to write; refused when it exists, unless force
  bool force = false;                          // replace an existing `out` (only once the new one is complete)
  uint64_t max_shard_bytes = kDefaultMaxShardBytes;
  std::optional<std::string> job_path;         // the --job the study was opened with (recorded for --from)
  std::optional<config::DType> dtype;          // of every tensor; default: an HF folder's own, bfloat16 from GGUF
};

// What was written, for the summary line.
struct ExportSummary {
  uint64_t weight_bytes = 0;
  int64_t n_shards = 0;
  int64_t n_ablated_matrices = 0;
};

// Writes `trial` of `study` to options.out. The folder is written under a
// temporary name beside it and renamed at the end, so an error (a disk that
// fills up, a missing file) leaves no folder behind. Prints progress per shard.
// Throws InputError (an existing folder without force), IoError or FormatError
// naming the file (a GGUF vocabulary that has no tokenizer.json form yet).
ExportSummary export_hf_folder(const runner::StoredStudy& study, const study::Trial& trial,
                               const ExportOptions& options);

// abliterate.json's record of an export: the store, study and trial, the job
// file and settings, the trial's parameters and results, the fingerprint of
// the inputs and the tool's version.
nlohmann::json export_record(const runner::StoredStudy& study, const study::Trial& trial, const ExportOptions& options);

}  // namespace abliterate::exporter
