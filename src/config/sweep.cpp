#include "abliterate/config/sweep.hpp"

#include <algorithm>
#include <cctype>
#include <optional>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "abliterate/common/error.hpp"
#include "abliterate/config/job_keys.hpp"
#include "abliterate/config/job_loader.hpp"
#include "abliterate/config/yaml_to_json.hpp"

namespace abliterate::config {
namespace {

using nlohmann::json;

// The keys of a sweep file, and of its `models` and `settings` items.
constexpr const char* kSweepKeys[] = {"base", "out_dir", "models", "settings"};
constexpr const char* kModelKeys[] = {"name", "model", "adapter"};
constexpr const char* kSettingsKeys[] = {"name", "set"};

// The store and cache of an entry, in its folder.
constexpr const char* kEntryStore = "study.db";
constexpr const char* kEntryCache = "cache.h5";

template <size_t N>
void check_keys(const json& object, const char* const (&allowed)[N], const std::string& where) {
  for (const auto& [key, value] : object.items()) {
    if (std::find(std::begin(allowed), std::end(allowed), key) != std::end(allowed)) continue;
    throw InputError(fmt::format("{}: unknown key \"{}\" (expected one of: {})", where, key,
                                 fmt::join(allowed, ", ")));
  }
}

std::string required_string(const json& object, const char* key, const std::string& where) {
  const auto it = object.find(key);
  ABL_CHECK(it != object.end(), InputError, "{}: missing key \"{}\"", where, key);
  ABL_CHECK(it->is_string() && !it->get<std::string>().empty(), InputError, "{}.{}: expected a non-empty string, got {}",
            where, key, it->dump());
  return it->get<std::string>();
}

// An entry name becomes a folder name: letters, digits, '.', '-', '_' only,
// so that no name can climb out of out_dir or collide by case of a slash.
void check_entry_name(const std::string& name, const std::string& where) {
  bool ok = !name.empty() && name != "." && name != "..";
  for (char c : name) {
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_');
  }
  ABL_CHECK(ok, InputError,
            "{}: name \"{}\" is not usable as a folder name (letters, digits, '.', '-' and '_' only); set `name`",
            where, name);
}

struct ModelItem {
  std::string name;
  std::filesystem::path model;  // absolute
  std::optional<std::filesystem::path> adapter;
};

struct SettingsItem {
  std::string name;
  json set = json::object();
};

std::filesystem::path resolve_against(const std::filesystem::path& folder, const std::string& path) {
  const std::filesystem::path p(path);
  return p.is_absolute() ? p : std::filesystem::absolute(folder / p).lexically_normal();
}

std::vector<ModelItem> read_models(const json& document, const std::filesystem::path& folder,
                                   const std::string& file) {
  const auto models = document.find("models");
  ABL_CHECK(models != document.end(), InputError, "{}: missing key \"models\" (the models to sweep)", file);
  ABL_CHECK(models->is_array() && !models->empty(), InputError, "{}: models: expected a non-empty list", file);
  std::vector<ModelItem> out;
  for (size_t idx = 0; idx < models->size(); ++idx) {
    const json& item = (*models)[idx];
    const std::string where = fmt::format("{}: models[{}]", file, idx);
    ModelItem model;
    if (item.is_string()) {
      model.model = resolve_against(folder, item.get<std::string>());
    } else {
      ABL_CHECK(item.is_object(), InputError, "{}: expected a path or {{name, model, adapter}}, got {}", where,
                item.dump());
      check_keys(item, kModelKeys, where);
      model.model = resolve_against(folder, required_string(item, "model", where));
      if (item.contains("name")) model.name = required_string(item, "name", where);
      if (item.contains("adapter")) model.adapter = resolve_against(folder, required_string(item, "adapter", where));
    }
    if (model.name.empty()) model.name = model.model.stem().string();
    check_entry_name(model.name, where);
    out.push_back(std::move(model));
  }
  return out;
}

std::vector<SettingsItem> read_settings(const json& document, const std::string& file) {
  const auto settings = document.find("settings");
  if (settings == document.end() || settings->is_null()) return {SettingsItem{}};
  ABL_CHECK(settings->is_array() && !settings->empty(), InputError, "{}: settings: expected a non-empty list", file);
  std::vector<SettingsItem> out;
  for (size_t idx = 0; idx < settings->size(); ++idx) {
    const json& item = (*settings)[idx];
    const std::string where = fmt::format("{}: settings[{}]", file, idx);
    ABL_CHECK(item.is_object(), InputError, "{}: expected {{name, set}}, got {}", where, item.dump());
    check_keys(item, kSettingsKeys, where);
    SettingsItem setting;
    setting.name = required_string(item, "name", where);
    check_entry_name(setting.name, where);
    if (item.contains("set")) {
      ABL_CHECK(item.at("set").is_object(), InputError, "{}.set: expected a mapping of job keys", where);
      setting.set = item.at("set");
      // Each entry's outputs are the sweep's to place.
      for (JobKey owned : {JobKey::model, JobKey::adapter, JobKey::store, JobKey::cache}) {
        ABL_CHECK(!setting.set.contains(key_name(owned)), InputError,
                  "{}.set: {} is set per entry by the sweep and cannot be changed here", where, key_name(owned));
      }
    }
    out.push_back(std::move(setting));
  }
  return out;
}

}  // namespace

Sweep load_sweep(const std::filesystem::path& path) {
  const std::string file = path.string();
  const json document = yaml_to_json(read_job_text(path), file);
  ABL_CHECK(document.is_object(), InputError, "{}: expected a mapping with base and models", file);
  check_keys(document, kSweepKeys, file);
  const std::filesystem::path folder = std::filesystem::absolute(path).parent_path();

  Sweep sweep;
  sweep.source_path = path;
  sweep.out_dir = document.contains("out_dir")
                      ? resolve_against(folder, required_string(document, "out_dir", file))
                      : folder / path.stem();
  const std::filesystem::path base_path = resolve_against(folder, required_string(document, "base", file));
  const json base = yaml_to_json(read_job_text(base_path), base_path.string());
  ABL_CHECK(base.is_object(), InputError, "{}: the base job is not a mapping of job keys", base_path.string());

  const std::vector<ModelItem> models = read_models(document, folder, file);
  const std::vector<SettingsItem> settings = read_settings(document, file);
  std::set<std::string> names;
  for (const ModelItem& model : models) {
    for (const SettingsItem& setting : settings) {
      const std::string name = setting.name.empty() ? model.name : fmt::format("{}-{}", model.name, setting.name);
      ABL_CHECK(names.insert(name).second, InputError,
                "{}: two entries are named \"{}\"; give the models (or settings) distinct `name`s", file, name);
      json entry = base;
      for (const auto& [key, value] : setting.set.items()) entry[key] = value;
      entry[key_name(JobKey::model)] = model.model.string();
      if (model.adapter) entry[key_name(JobKey::adapter)] = model.adapter->string();
      entry[key_name(JobKey::store)] = (sweep.out_dir / name / kEntryStore).string();
      entry[key_name(JobKey::cache)] = (sweep.out_dir / name / kEntryCache).string();
      // Relative prompt paths stay relative to the base job, as in a plain run.
      sweep.entries.push_back(SweepEntry{
          .name = name, .job = job_from_document(entry, base_path, fmt::format("{} (entry {})", file, name))});
    }
  }
  return sweep;
}

}  // namespace abliterate::config
