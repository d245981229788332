#include <fmt/format.h>

#include <fstream>

#include "abliterate/cli/commands.hpp"
#include "abliterate/common/error.hpp"
#include "abliterate/runner/stored_study.hpp"
#include "abliterate/exporter/gguf_export.hpp"
#include "abliterate/exporter/hf_export.hpp"
#include "abliterate/exporter/lora_export.hpp"
#include "abliterate/exporter/trial_choice.hpp"
#include "number_arguments.hpp"

namespace abliterate::cli {
namespace {

// "5GB" -> 5e9, "500MB", "64KB", "123" (bytes); as transformers reads max_shard_size.
uint64_t parse_size(const std::string& text) {
  constexpr std::pair<std::string_view, uint64_t> kUnits[] = {
      {"GB", 1'000'000'000}, {"MB", 1'000'000}, {"KB", 1'000}, {"B", 1}, {"", 1}};
  for (const auto& [unit, scale] : kUnits) {
    if (!text.ends_with(unit)) continue;
    const std::optional<double> value = parse_whole_decimal(text.substr(0, text.size() - unit.size()));
    const double bytes = value.value_or(0) * static_cast<double>(scale);
    ABL_CHECK(bytes >= 1, InputError, "--max-shard-size: expected a size such as 5GB, 500MB or a byte count, got '{}'",
              text);
    return static_cast<uint64_t>(bytes);
  }
  return 0;  // not reached: every text ends with ""
}

// --from: the arguments an earlier export recorded in its abliterate.json.
ExportArgs args_from_record(const ExportArgs& given) {
  std::ifstream in(*given.from);
  ABL_CHECK(in, InputError, "{}: cannot open", *given.from);
  nlohmann::json record;
  try {
    record = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(fmt::format("{}: not valid JSON: {}", *given.from, e.what()));
  }
  ExportArgs args = given;
  try {
    args.store_path = record.at("store").get<std::string>();
    args.study_name = record.at("study").get<std::string>();
    args.trial = record.at("trial").get<int64_t>();
    if (!record.at("job").is_null()) args.job = record.at("job").get<std::string>();
    args.max_shard_size = std::to_string(record.at("max_shard_size").get<uint64_t>());
    args.adapter = record.value("export", "") == "adapter";
    if (args.adapter) args.adapter_rank = record.at("adapter_full_rank").get<int64_t>();
    if (record.contains("dtype") && !record.at("dtype").is_null()) args.dtype = record.at("dtype").get<std::string>();
    if (record.contains("gguf")) args.gguf = record.at("gguf").get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(fmt::format("{}: not an abliterate.json of `abliterate export`: {}", *given.from, e.what()));
  }
  return args;
}

}  // namespace

int export_command(const ExportArgs& given) {
  ABL_CHECK(!given.from || given.store_path.empty(), InputError, "export: give a STORE or --from, not both");
  ABL_CHECK(given.from || !given.store_path.empty(), InputError, "export: give a STORE (or --from abliterate.json)");
  ABL_CHECK(!given.out.empty(), InputError, "export: --out DIR is required");
  ABL_CHECK(!(given.gguf && given.adapter), InputError, "export: --gguf and --adapter write different things; give one");
  ABL_CHECK(!given.gguf || exporter::parse_gguf_export_type(*given.gguf).has_value(), InputError,
            "--gguf: expected F32, F16, BF16 or Q8_0, got '{}'", given.gguf.value_or(""));
  const ExportArgs args = given.from ? args_from_record(given) : given;

  const runner::StoredStudy study = runner::open_stored_study(args.store_path, args.job, args.study_name);
  if (given.from) {
    const nlohmann::json record = nlohmann::json::parse(std::ifstream(*given.from));
    ABL_CHECK(record.value("inputs_fingerprint", "") == study.fingerprint, InputError,
              "{}: the study's inputs (model, adapter, prompts or options) changed since this export; its fingerprint "
              "was {}, now {}",
              *given.from, record.value("inputs_fingerprint", ""), study.fingerprint);
  }
  const exporter::TrialChoice choice =
      exporter::choose_trial(study.trials, args.trial, args.max_kl, args.store_path);
  fmt::print("Exporting trial {} of study \"{}\": {}.\n", choice.trial->number, study.study_name, choice.reason);

  exporter::ExportOptions options;
  options.out = args.out;
  options.force = args.force;
  options.max_shard_bytes = parse_size(args.max_shard_size);
  options.job_path = args.job;
  if (args.dtype) {
    options.dtype = config::parse_dtype(*args.dtype);
    ABL_CHECK(options.dtype.has_value(), InputError, "--dtype: expected float32, bfloat16 or float16, got '{}'",
              *args.dtype);
  }
  if (args.gguf) {
    const exporter::ExportSummary summary =
        exporter::export_gguf_file(study, *choice.trial, options, *exporter::parse_gguf_export_type(*args.gguf));
    fmt::print("Model saved to {} (GGUF {}, {:.2f} GB, {} ablated matrices).\n", args.out, *args.gguf,
               static_cast<double>(summary.weight_bytes) / 1e9, summary.n_ablated_matrices);
    return 0;
  }
  if (args.adapter) {
    const exporter::LoraExportSummary summary =
        exporter::export_lora_adapter(study, *choice.trial, options,
                                      args.adapter_rank.value_or(study.job.full_normalization_lora_rank));
    fmt::print("Adapter saved to {} (LoRA rank {} on {} ablated matrices{}).\n", args.out, summary.rank,
               summary.n_matrices,
               study.job.row_normalization == config::RowNormalization::full
                   ? fmt::format("; rank-{} SVD of the full-normalization update, largest relative error {:.2e}",
                                 summary.rank, summary.max_relative_error)
                   : std::string("; exact"));
    return 0;
  }
  const exporter::ExportSummary summary = exporter::export_hf_folder(study, *choice.trial, options);
  fmt::print("Model saved to {} ({} shard(s), {:.2f} GB, {} ablated matrices).\n", args.out, summary.n_shards,
             static_cast<double>(summary.weight_bytes) / 1e9, summary.n_ablated_matrices);
  return 0;
}

}  // namespace abliterate::cli
