// Comparing a resumed job with the study it continues.
#include "abliterate/study/resume_check.hpp"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "abliterate/config/job_keys.hpp"

namespace abliterate::study {
namespace {

using nlohmann::json;

constexpr const char* kAbsent = "(absent)";
// Long values (the refusal markers) are cut so that each difference stays
// one readable line.
constexpr size_t kMaxValueChars = 160;

// The prompt-set fields that select or shape the prompts; plot labels and
// colours only decorate reports.
const std::vector<std::string>& prompt_set_keys() {
  static const std::vector<std::string> keys = {"dataset", "split", "column", "prefix", "suffix", "system_prompt"};
  return keys;
}

bool is_prompt_set(const std::string& key) { return key.ends_with("_prompts"); }

std::string short_text(const json& value) {
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > kMaxValueChars) text = text.substr(0, kMaxValueChars - 3) + "...";
  return text;
}

const json* find_key(const json& object, const std::string& key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

void compare_value(const std::string& label, const json* stored, const json* current,
                   std::vector<SettingsDifference>& out) {
  // A key a newer version added (stored by none before it) reads as unset: null.
  const auto is_unset = [](const json* value) { return value == nullptr || value->is_null(); };
  if (is_unset(stored) && is_unset(current)) return;
  if (stored != nullptr && current != nullptr && *stored == *current) return;
  out.push_back(SettingsDifference{.key = label,
                                   .stored = stored != nullptr ? short_text(*stored) : kAbsent,
                                   .current = current != nullptr ? short_text(*current) : kAbsent});
}

}  // namespace

const std::vector<std::string>& result_defining_settings_keys() {
  using config::JobKey;
  // Spelled through the job-key table, as every reader of job keys does.
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> names;
    for (JobKey key : {JobKey::model, JobKey::adapter, JobKey::dtypes, JobKey::quantization,
                       JobKey::max_response_length, JobKey::response_prefix, JobKey::chain_of_thought_skips,
                       JobKey::kl_divergence_scale,
                       JobKey::kl_divergence_target, JobKey::orthogonalize_direction, JobKey::row_normalization,
                       JobKey::winsorization_quantile, JobKey::objectives, JobKey::refusal_markers,
                       JobKey::system_prompt, JobKey::good_prompts, JobKey::bad_prompts,
                       JobKey::good_evaluation_prompts, JobKey::bad_evaluation_prompts}) {
      names.emplace_back(config::key_name(key));
    }
    return names;
  }();
  return keys;
}

std::vector<SettingsDifference> settings_differences(const json& stored, const json& current) {
  std::vector<SettingsDifference> out;
  for (const std::string& key : result_defining_settings_keys()) {
    const json* stored_value = find_key(stored, key);
    const json* current_value = find_key(current, key);
    const bool both_objects = stored_value != nullptr && current_value != nullptr && stored_value->is_object() &&
                              current_value->is_object();
    if (is_prompt_set(key) && both_objects) {
      for (const std::string& field : prompt_set_keys()) {
        compare_value(key + "." + field, find_key(*stored_value, field), find_key(*current_value, field), out);
      }
    } else {
      compare_value(key, stored_value, current_value, out);
    }
  }
  return out;
}

std::vector<SettingsDifference> search_space_differences(
    const std::vector<std::pair<std::string, Distribution>>& stored, const std::vector<ParamSpec>& space) {
  std::vector<SettingsDifference> out;
  if (stored.empty()) return out;
  const std::string label = "search space: ";
  std::map<std::string, const Distribution*> stored_by_name;
  for (const auto& [name, distribution] : stored) stored_by_name[name] = &distribution;
  for (const ParamSpec& spec : space) {
    const auto it = stored_by_name.find(spec.name);
    const std::string current = distribution_to_json_text(spec.distribution);
    if (it == stored_by_name.end()) {
      out.push_back({label + spec.name, kAbsent, current});
    } else if (!(*it->second == spec.distribution)) {
      out.push_back({label + spec.name, distribution_to_json_text(*it->second), current});
    }
  }
  for (const auto& [name, distribution] : stored) {
    const bool in_space =
        std::any_of(space.begin(), space.end(), [&, &n = name](const ParamSpec& spec) { return spec.name == n; });
    if (!in_space) out.push_back({label + name, distribution_to_json_text(distribution), kAbsent});
  }
  return out;
}

std::string format_resume_refusal(const std::string& store_path, const std::string& study_name,
                                  const std::string& job_path, const std::vector<SettingsDifference>& differences) {
  std::string out = fmt::format(
      "{}: study \"{}\" was started with other settings than {} ({} difference{}); its trials would not be "
      "comparable with new ones:",
      store_path, study_name, job_path, differences.size(), differences.size() == 1 ? "" : "s");
  for (const SettingsDifference& d : differences) {
    out += fmt::format("\n  {}: stored {}, new {}", d.key, d.stored, d.current);
  }
  out += "\nRun with --force to continue the study with the new settings anyway, or set another study_name or store.";
  return out;
}

}  // namespace abliterate::study
