// Heretic's config.toml -> job (method spec §2).
#include "abliterate/config/heretic_config.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>
#include <yaml-cpp/yaml.h>

#include "abliterate/common/error.hpp"
#include "abliterate/config/job.hpp"
#include "abliterate/config/job_keys.hpp"

namespace abliterate::config {

using nlohmann::json;

namespace {

json toml_to_json(const toml::node& node, const std::string& file, const std::string& key_path) {
  if (const auto* table = node.as_table()) {
    json object = json::object();
    for (const auto& [key, value] : *table) {
      const std::string name(key.str());
      object[name] = toml_to_json(value, file, key_path.empty() ? name : key_path + "." + name);
    }
    return object;
  }
  if (const auto* array = node.as_array()) {
    json list = json::array();
    for (size_t i = 0; i < array->size(); ++i) {
      list.push_back(toml_to_json(*array->get(i), file, fmt::format("{}[{}]", key_path, i)));
    }
    return list;
  }
  if (const auto* text = node.as_string()) return text->get();
  if (const auto* integer = node.as_integer()) return integer->get();
  if (const auto* number = node.as_floating_point()) return number->get();
  if (const auto* flag = node.as_boolean()) return flag->get();
  const toml::source_position where = node.source().begin;
  throw InputError(fmt::format("{}:{}:{}: {}: dates and times have no meaning in a job", file, where.line,
                               where.column, key_path));
}

// Heretic's "auto" dtype (the checkpoint's own) is not one of ours; the
// explicit types keep their order.
void convert_dtypes(json& job, std::vector<std::string>& notes) {
  const char* key = key_name(JobKey::dtypes);
  if (!job.contains(key) || !job[key].is_array()) return;
  json kept = json::array();
  for (const json& dtype : job[key]) {
    if (dtype == "auto") {
      notes.push_back("dtypes: \"auto\" left out (list explicit types: float32, bfloat16, float16)");
    } else {
      kept.push_back(dtype);
    }
  }
  if (kept.empty()) {
    notes.push_back("dtypes: nothing left; the default [float32] applies");
    job.erase(key);
  } else {
    job[key] = std::move(kept);
  }
}

// Heretic 1.4's settings for what happens around a study, not in it: each is
// left out of the job with a note saying where the same choice lives here.
struct OutsideKey {
  const char* key;
  const char* note;
};
constexpr OutsideKey kOutsideKeys[] = {
    {"export_strategy", "export_strategy left out: choose at export (`abliterate export --adapter` or a merged model)"},
    {"max_shard_size", "max_shard_size left out: give it at export (`abliterate export --max-shard-size`)"},
    {"offload_outputs_to_cpu", "offload_outputs_to_cpu left out: outputs already leave the device per batch"},
    {"model_commit", "model_commit left out: point `model` at the checkpoint of that commit"},
    {"benchmarks", "benchmarks left out: abliterate runs no downstream benchmarks"},
    {"reproduce", "reproduce left out: a study resumes from its store, and `abliterate export --from` redoes an export"},
    {"collect_reproducibles", "collect_reproducibles left out: the store and abliterate.json record a study and its export"},
};

void drop_outside_keys(json& job, std::vector<std::string>& notes) {
  for (const OutsideKey& outside : kOutsideKeys) {
    if (job.erase(outside.key) > 0) notes.emplace_back(outside.note);
  }
}

std::string shortest_number(double value) {
  if (std::isnan(value)) return ".nan";
  if (std::isinf(value)) return value > 0 ? ".inf" : "-.inf";
  std::string text = fmt::format("{}", value);  // shortest round-trip form
  if (text.find_first_of(".eE") == std::string::npos) text += ".0";
  return text;
}

// A key YAML reads back as the same string when written bare.
bool is_plain_key(const std::string& key) {
  if (key.empty() || !(std::isalpha(static_cast<unsigned char>(key[0])) || key[0] == '_')) return false;
  if (key == "true" || key == "false" || key == "null") return false;
  return std::all_of(key.begin(), key.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.'; });
}

void emit(YAML::Emitter& out, const json& value) {
  switch (value.type()) {
    case json::value_t::object:
      out << YAML::BeginMap;
      for (const auto& [key, item] : value.items()) {
        out << YAML::Key;
        if (is_plain_key(key)) {
          out << key;
        } else {
          out << YAML::DoubleQuoted << key;  // e.g. max_memory's "0", which YAML would read as a number
        }
        out << YAML::Value;
        emit(out, item);
      }
      out << YAML::EndMap;
      break;
    case json::value_t::array:
      out << YAML::BeginSeq;
      for (const json& item : value) emit(out, item);
      out << YAML::EndSeq;
      break;
    case json::value_t::string:
      out << YAML::DoubleQuoted << value.get<std::string>();
      break;
    case json::value_t::boolean:
      out << (value.get<bool>() ? "true" : "false");
      break;
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      out << value.dump();
      break;
    case json::value_t::number_float:
      out << shortest_number(value.get<double>());
      break;
    default:
      out << YAML::Null;
      break;
  }
}

}  // namespace

ConvertedConfig convert_heretic_config(const std::string& toml_text, const std::string& file) {
  toml::table table;
  try {
    table = toml::parse(std::string_view(toml_text), std::string_view(file));
  } catch (const toml::parse_error& e) {
    const toml::source_position where = e.source().begin;
    throw InputError(fmt::format("{}:{}:{}: {}", file, where.line, where.column, e.description()));
  }
  ConvertedConfig converted;
  json& job = converted.job;
  job = toml_to_json(table, file, "");

  convert_dtypes(job, converted.notes);
  drop_outside_keys(job, converted.notes);
  return converted;
}

std::string job_to_yaml(const ConvertedConfig& converted) {
  std::string text;
  for (const std::string& note : converted.notes) text += "# " + note + "\n";
  YAML::Emitter out;
  out.SetIndent(2);
  emit(out, converted.job);
  ABL_ASSERT(out.good(), "YAML emitter: {}", out.GetLastError());
  text += out.c_str();
  text += "\n";
  return text;
}

}  // namespace abliterate::config
