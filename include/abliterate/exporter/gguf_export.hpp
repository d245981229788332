// `abliterate export --gguf TYPE`: a trial of a study on a GGUF model written
// as a GGUF file again, in F32, F16, BF16 or Q8_0 (1-D tensors, the norms,
// stay F32, as llama.cpp's converter keeps them; a row that is not whole Q8_0
// blocks falls back to F16). The source's metadata is copied entry for entry
// (general.file_type set to the new type), the job's adapter is merged, the
// ablation is materialized, and llama.cpp's layout changes (Gemma's norm + 1,
// llama's permuted Q/K rows) are redone, so llama.cpp, gguf-py and our own
// loader read it as they read the original.
#pragma once

#include <string>

#include "abliterate/runner/stored_study.hpp"
#include "abliterate/exporter/hf_export.hpp"
#include "abliterate/formats/ggml_types.hpp"
#include "abliterate/study/trial.hpp"

namespace abliterate::exporter {

// F32, F16, BF16 or Q8_0 (ggml's spellings); nullopt for any other text.
std::optional<formats::GgmlType> parse_gguf_export_type(const std::string& text);

// Writes options.out/<model stem>-abliterated-<TYPE>.gguf with the card and
// abliterate.json, under a temporary folder name as export_hf_folder does.
// Throws InputError when the study's model is not a GGUF file (the metadata
// is copied from it).
ExportSummary export_gguf_file(const runner::StoredStudy& study, const study::Trial& trial, const ExportOptions& options,
                               formats::GgmlType type);

}  // namespace abliterate::exporter
