#include "abliterate/data/prompt_set.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "abliterate/common/error.hpp"
#include "abliterate/config/job_keys.hpp"
#include "abliterate/data/jsonl_reader.hpp"
#include "abliterate/data/text_reader.hpp"

namespace abliterate::data {

namespace fs = std::filesystem;
using config::PromptSetKey;

namespace {

// File formats load_prompt_set reads, by extension, in the order a folder is
// searched for <split><extension>.
enum class PromptFormat { jsonl, text };
struct FormatExtension {
  PromptFormat format;
  const char* extension;
};
constexpr FormatExtension kFormats[] = {{PromptFormat::jsonl, ".jsonl"}, {PromptFormat::text, ".txt"}};

// HF's plain-text loader names its one column this.
constexpr const char* kTextColumn = "text";

// Files that mark a `datasets` save_to_disk folder (Arrow shards, not read here).
constexpr const char* kSaveToDiskMarkers[] = {"state.json", "dataset_info.json"};

// "owner/name" with no file extension: most likely a Hugging Face Hub id.
bool looks_like_hub_id(const std::string& dataset) {
  return !dataset.empty() && dataset[0] != '.' && dataset[0] != '/' &&
         std::count(dataset.begin(), dataset.end(), '/') == 1 && !fs::path(dataset).has_extension();
}

// Method spec §3.1: a non-empty prefix or suffix joins the prompt with one space.
std::string decorate(const std::string& prefix, const std::string& row, const std::string& suffix) {
  std::string user = prefix.empty() ? row : prefix + " " + row;
  if (!suffix.empty()) user += " " + suffix;
  return user;
}

}  // namespace

std::vector<Prompt> load_prompt_set(const config::Job& job, const config::PromptSetSpec& spec,
                                    const std::string& key_path) {
  const std::string job_file = job.source_path.empty() ? "job" : job.source_path.string();
  const std::string dataset_key = fmt::format("{}.{}", key_path, config::key_name(PromptSetKey::dataset));
  const std::string split_key = fmt::format("{}.{}", key_path, config::key_name(PromptSetKey::split));
  const std::string column_key = fmt::format("{}.{}", key_path, config::key_name(PromptSetKey::column));

  const SplitSlice slice =
      with_context(fmt::format("{}: {}", job_file, key_path), [&] { return parse_split(spec.split); });

  ABL_CHECK(!spec.dataset.empty(), InputError, "{}: {}: expected a file or folder, got an empty path", job_file,
            dataset_key);
  const fs::path resolved = job.resolve_input(spec.dataset);
  std::error_code ec;
  const fs::file_status status = fs::status(resolved, ec);
  ABL_CHECK(
      fs::exists(status), InputError, "{}: {}: no such file or folder: {}{}", job_file, dataset_key, resolved.string(),
      looks_like_hub_id(spec.dataset) ? " (Hugging Face Hub ids are not downloaded; give the path of a local copy)"
                                      : "");

  fs::path file;
  PromptFormat format = PromptFormat::jsonl;
  if (fs::is_directory(status)) {
    for (const char* marker : kSaveToDiskMarkers) {
      ABL_CHECK(!fs::exists(resolved / marker), InputError,
                "{}: {}: {} is a `datasets` save_to_disk folder, which is not supported; write the split as "
                "{}.jsonl (one {{\"{}\": ...}} per line)",
                job_file, dataset_key, resolved.string(), slice.split, spec.column);
    }
    for (const FormatExtension& f : kFormats) {
      const fs::path candidate = resolved / (slice.split + f.extension);
      if (fs::is_regular_file(candidate)) {
        file = candidate;
        format = f.format;
        break;
      }
    }
    ABL_CHECK(!file.empty(), InputError, "{}: {}: the folder {} has no {}.jsonl or {}.txt for split \"{}\"", job_file,
              split_key, resolved.string(), slice.split, slice.split, slice.split);
  } else {
    file = resolved;
    const std::string extension = file.extension().string();
    const auto* found = std::find_if(std::begin(kFormats), std::end(kFormats),
                                     [&](const FormatExtension& f) { return extension == f.extension; });
    ABL_CHECK(found != std::end(kFormats), InputError,
              "{}: {}: {}: expected a .jsonl or .txt file, got \"{}\" (JSON and CSV are not read yet)", job_file,
              dataset_key, file.string(), extension);
    format = found->format;
  }

  std::vector<std::string> rows;
  if (format == PromptFormat::jsonl) {
    rows = read_jsonl_column(file, spec.column);
  } else {
    ABL_CHECK(spec.column == kTextColumn, InputError,
              "{}: {}: {} is plain text, whose only column is \"{}\"; got \"{}\"", job_file, column_key, file.string(),
              kTextColumn, spec.column);
    rows = read_text_lines(file);
  }

  const auto [begin, end] = resolve_slice(slice, static_cast<int64_t>(rows.size()));
  const std::string& system = spec.system_prompt ? *spec.system_prompt : job.system_prompt;
  std::vector<Prompt> prompts;
  prompts.reserve(static_cast<std::size_t>(end - begin));
  for (int64_t row_idx = begin; row_idx < end; ++row_idx) {
    prompts.push_back({system, decorate(spec.prefix, rows[static_cast<std::size_t>(row_idx)], spec.suffix)});
  }
  ABL_CHECK(!prompts.empty(), InputError,
            "{}: {}: the prompt set is empty (dataset {}, split {}; the file has {} rows)", job_file, key_path,
            file.string(), spec.split, rows.size());
  return prompts;
}

}  // namespace abliterate::data
