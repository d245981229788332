// `abliterate export --adapter`: a trial as a PEFT LoRA adapter for the
// original model instead of full weights, as Heretic 1.4's export_strategy =
// "adapter". For row normalization none and pre the update is exactly rank 1
// per ablated matrix (W' = W - B·A with B = w·v or w·(n⊙v), A = vᵀW or
// (v⊘n)ᵀW); for full it is the best rank-r approximation (SVD) of W' - W.
// transformers + PEFT load it onto the original model, and so does our own
// loader (job key `adapter`, `chat --adapter`).
#pragma once

#include <cstdint>

#include "abliterate/runner/stored_study.hpp"
#include "abliterate/exporter/hf_export.hpp"
#include "abliterate/study/trial.hpp"

namespace abliterate::exporter {

struct LoraExportSummary {
  int64_t rank = 0;                 // the adapter's r
  int64_t n_matrices = 0;           // ablated matrices (each a LoRA pair)
  double max_relative_error = 0;    // full: max over matrices of ||W' - W - B·A||_F / ||W' - W||_F; 0 when exact
};

// Writes adapter_config.json and adapter_model.safetensors (float32), with the
// card and abliterate.json, into options.out (under a temporary name, as
// export_hf_folder). `full_rank` is r for row normalization full (the CLI's
// default: the job's full_normalization_lora_rank, Heretic's 3). Throws
// InputError for a GGUF model or a job with an adapter of its own (the update
// is relative to the original model's weights).
LoraExportSummary export_lora_adapter(const runner::StoredStudy& study, const study::Trial& trial,
                                      const ExportOptions& options, int64_t full_rank);

}  // namespace abliterate::exporter
