#include "abliterate/config/job_loader.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "abliterate/common/error.hpp"
#include "abliterate/config/job_keys.hpp"
#include "abliterate/config/json_schema.hpp"
#include "abliterate/config/yaml_to_json.hpp"

#ifndef ABL_SCHEMA_DIR
#error "ABL_SCHEMA_DIR must name the schemas/ folder (set by CMakeLists.txt)"
#endif

namespace abliterate::config {

using nlohmann::json;

namespace {

constexpr const char* kJobSchemaFile = "job.schema.json";
constexpr const char* kSchemaDirVariable = "ABLITERATE_SCHEMA_DIR";

constexpr JobKey kPromptSetKeys[] = {JobKey::good_prompts, JobKey::bad_prompts, JobKey::good_evaluation_prompts,
                                     JobKey::bad_evaluation_prompts};

std::string file_label(const std::filesystem::path& path) { return path.empty() ? "job" : path.string(); }

// The prompt set a key names, const or not with `job`.
template <typename JobT>
auto& prompt_set_of(JobT& job, JobKey key) {
  switch (key) {
    case JobKey::good_prompts:
      return job.good_prompts;
    case JobKey::bad_prompts:
      return job.bad_prompts;
    case JobKey::good_evaluation_prompts:
      return job.good_evaluation_prompts;
    case JobKey::bad_evaluation_prompts:
      return job.bad_evaluation_prompts;
    default:
      break;
  }
  ABL_ASSERT(false, "{} is not a prompt-set key", key_name(key));
  return job.good_prompts;  // unreachable
}

// Throws InputError listing every violation of the job schema.
void validate_job_document(const json& document, const std::string& file) {
  ABL_CHECK(!document.is_null(), InputError,
            "{}: the job is empty; expected a mapping of job keys with at least \"{}\"", file, key_name(JobKey::model));
  const JsonSchema schema = JsonSchema::load(job_schema_path());
  const std::vector<SchemaViolation> violations = schema.validate(document);
  if (!violations.empty()) throw InputError(format_violations(file, violations));
}

// A prompt set over the job's default for that key, so that an omitted split
// keeps its per-key default (train[:400] or test[:100]).
void read_prompt_set(const json& object, PromptSetSpec& spec) {
  const auto find = [&](PromptSetKey key) -> const json* {
    const auto it = object.find(key_name(key));
    return it == object.end() ? nullptr : &*it;
  };
  if (const json* v = find(PromptSetKey::dataset)) spec.dataset = v->get<std::string>();
  if (const json* v = find(PromptSetKey::split)) spec.split = v->get<std::string>();
  if (const json* v = find(PromptSetKey::column)) spec.column = v->get<std::string>();
  if (const json* v = find(PromptSetKey::prefix)) spec.prefix = v->get<std::string>();
  if (const json* v = find(PromptSetKey::suffix)) spec.suffix = v->get<std::string>();
  if (const json* v = find(PromptSetKey::system_prompt)) spec.system_prompt = v->get<std::string>();
  if (const json* v = find(PromptSetKey::residual_plot_label)) spec.residual_plot_label = v->get<std::string>();
  if (const json* v = find(PromptSetKey::residual_plot_color)) spec.residual_plot_color = v->get<std::string>();
}

json prompt_set_to_json(const PromptSetSpec& spec) {
  json out = json::object();
  out[key_name(PromptSetKey::dataset)] = spec.dataset;
  out[key_name(PromptSetKey::split)] = spec.split;
  out[key_name(PromptSetKey::column)] = spec.column;
  out[key_name(PromptSetKey::prefix)] = spec.prefix;
  out[key_name(PromptSetKey::suffix)] = spec.suffix;
  if (spec.system_prompt) out[key_name(PromptSetKey::system_prompt)] = *spec.system_prompt;
  if (spec.residual_plot_label) out[key_name(PromptSetKey::residual_plot_label)] = *spec.residual_plot_label;
  if (spec.residual_plot_color) out[key_name(PromptSetKey::residual_plot_color)] = *spec.residual_plot_color;
  return out;
}

template <typename Enum>
Enum parse_checked(std::optional<Enum> parsed, JobKey key, const std::string& text) {
  // The schema's enum already rejected other spellings; reaching here means
  // schema and C++ tables disagree.
  ABL_ASSERT(parsed.has_value(), "{}: \"{}\" passed the schema but names no value", key_name(key), text);
  return *parsed;
}

// A value the schema allows to be null: nullopt for null.
template <typename T>
std::optional<T> optional_value(const json& value) {
  if (value.is_null()) return std::nullopt;
  return value.get<T>();
}

template <typename T>
json optional_json(const std::optional<T>& value) {
  return value ? json(*value) : json(nullptr);
}

// accelerate's max_memory: device -> limit ("20GB", or a byte count).
std::map<std::string, std::string> read_max_memory(const json& object, const std::string& file) {
  std::map<std::string, std::string> limits;
  for (const auto& [device, limit] : object.items()) {
    ABL_CHECK(limit.is_string() || limit.is_number_integer(), InputError,
              "{}: {}.{}: expected a size such as \"20GB\" or a byte count, got {}", file,
              key_name(JobKey::max_memory), device, limit.dump());
    limits[device] = limit.is_string() ? limit.get<std::string>() : limit.dump();
  }
  return limits;
}

// Heretic's [[start, full], ...] pairs (method spec §3.4).
std::vector<ChainOfThoughtSkip> read_chain_of_thought_skips(const json& pairs, const std::string& file) {
  std::vector<ChainOfThoughtSkip> skips;
  for (size_t i = 0; i < pairs.size(); ++i) {
    const json& pair = pairs[i];
    ABL_CHECK(pair.size() == 2, InputError,
              "{}: {}[{}]: expected a pair [start, full] such as [\"<think>\", \"<think></think>\"], got {} items",
              file, key_name(JobKey::chain_of_thought_skips), i, pair.size());
    skips.push_back({pair[0].get<std::string>(), pair[1].get<std::string>()});
  }
  return skips;
}

// enqueue_trials: Heretic's printed form of a trial's parameters, flat keys
// "<component>.<field>" (the names of its Optuna parameters).
constexpr const char* kDirectionIndexKey = "direction_index";
constexpr const char* kPerLayer = "per layer";

std::vector<config::AblationParams> read_enqueue_trials(const json& items, const std::string& file) {
  std::vector<config::AblationParams> trials;
  for (size_t i = 0; i < items.size(); ++i) {
    const json& item = items[i];
    config::AblationParams params;
    const json& index = item.at(kDirectionIndexKey);
    if (index.is_number()) {
      params.direction_index = index.get<double>();
    } else {
      ABL_CHECK(index.get<std::string>() == kPerLayer, InputError,
                "{}: {}[{}].{}: expected a float layer index or \"{}\", got {}", file,
                key_name(JobKey::enqueue_trials), i, kDirectionIndexKey, kPerLayer, index.dump());
    }
    for (const auto& [name, member] : config::kNamedComponents) {
      const std::string prefix = std::string(name) + ".";
      config::ComponentParams& component = params.*member;
      component.max_weight = item.at(prefix + "max_weight").get<double>();
      component.max_weight_position = item.at(prefix + "max_weight_position").get<double>();
      component.min_weight = item.at(prefix + "min_weight").get<double>();
      component.min_weight_distance = item.at(prefix + "min_weight_distance").get<double>();
    }
    trials.push_back(params);
  }
  return trials;
}

json enqueue_trials_to_json(const std::vector<config::AblationParams>& trials) {
  json items = json::array();
  for (const config::AblationParams& params : trials) {
    json item = json::object();
    item[kDirectionIndexKey] = params.direction_index ? json(*params.direction_index) : json(kPerLayer);
    for (const auto& [name, member] : config::kNamedComponents) {
      const std::string prefix = std::string(name) + ".";
      const config::ComponentParams& component = params.*member;
      item[prefix + "max_weight"] = component.max_weight;
      item[prefix + "max_weight_position"] = component.max_weight_position;
      item[prefix + "min_weight"] = component.min_weight;
      item[prefix + "min_weight_distance"] = component.min_weight_distance;
    }
    items.push_back(std::move(item));
  }
  return items;
}

// The placements a worker understands (Heretic's device_map may also be a
// per-module mapping, which has no meaning with one device per worker).
constexpr const char* kDeviceNames[] = {"auto", "cpu", "cuda"};

// The typed Job from a document that passed the schema: every type below is
// guaranteed, every absent key keeps the struct's default.
Job typed_job(const json& document, const std::filesystem::path& source_path) {
  Job job;
  job.source_path = source_path;
  const auto find = [&](JobKey key) -> const json* {
    const auto it = document.find(key_name(key));
    return it == document.end() ? nullptr : &*it;
  };

  if (const json* v = find(JobKey::model)) job.model = v->get<std::string>();
  if (const json* v = find(JobKey::adapter)) job.adapter = optional_value<std::string>(*v);
  if (const json* v = find(JobKey::dtypes)) {
    job.dtypes.clear();
    for (const json& d : *v) {
      job.dtypes.push_back(parse_checked(parse_dtype(d.get<std::string>()), JobKey::dtypes, d.get<std::string>()));
    }
  }
  if (const json* v = find(JobKey::device)) job.device = v->get<std::string>();
  if (const json* v = find(JobKey::device_map)) {
    job.device_map = v->get<std::string>();
    const std::string file = file_label(source_path);
    ABL_CHECK(std::find(std::begin(kDeviceNames), std::end(kDeviceNames), job.device_map) != std::end(kDeviceNames),
              InputError, "{}: {}: expected one of auto, cpu, cuda (one device per worker); got \"{}\"", file,
              key_name(JobKey::device_map), job.device_map);
    // Heretic's spelling stands for `device` when the job does not set that.
    if (find(JobKey::device) == nullptr) job.device = job.device_map;
  }
  if (const json* v = find(JobKey::evaluate_model)) job.evaluate_model = optional_value<std::string>(*v);
  if (const json* v = find(JobKey::quantization)) {
    job.quantization =
        parse_checked(parse_quantization(v->get<std::string>()), JobKey::quantization, v->get<std::string>());
  }
  if (const json* v = find(JobKey::max_memory); v != nullptr && !v->is_null()) {
    job.max_memory = read_max_memory(*v, file_label(source_path));
  }
  if (const json* v = find(JobKey::trust_remote_code)) job.trust_remote_code = optional_value<bool>(*v);

  if (const json* v = find(JobKey::batch_size)) job.batch_size = v->get<int64_t>();
  if (const json* v = find(JobKey::max_batch_size)) job.max_batch_size = v->get<int64_t>();
  if (const json* v = find(JobKey::max_response_length)) job.max_response_length = v->get<int64_t>();
  if (const json* v = find(JobKey::print_responses)) job.print_responses = v->get<bool>();
  if (const json* v = find(JobKey::response_prefix)) job.response_prefix = optional_value<std::string>(*v);
  if (const json* v = find(JobKey::chain_of_thought_skips)) {
    job.chain_of_thought_skips = read_chain_of_thought_skips(*v, file_label(source_path));
  }

  if (const json* v = find(JobKey::kl_divergence_scale)) job.kl_divergence_scale = v->get<double>();
  if (const json* v = find(JobKey::kl_divergence_target)) job.kl_divergence_target = v->get<double>();
  if (const json* v = find(JobKey::orthogonalize_direction)) job.orthogonalize_direction = v->get<bool>();
  if (const json* v = find(JobKey::row_normalization)) {
    job.row_normalization =
        parse_checked(parse_row_normalization(v->get<std::string>()), JobKey::row_normalization, v->get<std::string>());
  }
  if (const json* v = find(JobKey::full_normalization_lora_rank)) {
    job.full_normalization_lora_rank = v->get<int64_t>();
  }
  if (const json* v = find(JobKey::winsorization_quantile)) job.winsorization_quantile = v->get<double>();
  if (const json* v = find(JobKey::objectives)) {
    job.objectives = parse_checked(parse_objectives(v->get<std::string>()), JobKey::objectives, v->get<std::string>());
  }
  if (const json* v = find(JobKey::print_residual_geometry)) job.print_residual_geometry = v->get<bool>();
  if (const json* v = find(JobKey::plot_residuals)) job.plot_residuals = v->get<bool>();
  if (const json* v = find(JobKey::residual_plot_path)) job.residual_plot_path = v->get<std::string>();
  if (const json* v = find(JobKey::residual_plot_title)) job.residual_plot_title = v->get<std::string>();
  if (const json* v = find(JobKey::residual_plot_style)) job.residual_plot_style = v->get<std::string>();

  if (const json* v = find(JobKey::n_trials)) job.n_trials = v->get<int64_t>();
  if (const json* v = find(JobKey::n_startup_trials)) job.n_startup_trials = v->get<int64_t>();
  if (const json* v = find(JobKey::sampler)) {
    job.sampler = parse_checked(parse_sampler_kind(v->get<std::string>()), JobKey::sampler, v->get<std::string>());
  }
  if (const json* v = find(JobKey::study_name)) job.study_name = v->get<std::string>();
  if (const json* v = find(JobKey::seed)) job.seed = v->get<uint64_t>();
  if (const json* v = find(JobKey::grace_period)) job.grace_period = v->get<double>();
  if (const json* v = find(JobKey::worker_timeout)) job.worker_timeout = v->get<double>();
  if (const json* v = find(JobKey::trials_per_worker)) job.trials_per_worker = v->get<int64_t>();
  if (const json* v = find(JobKey::study_checkpoint_dir)) job.study_checkpoint_dir = v->get<std::string>();
  if (const json* v = find(JobKey::enqueue_trials)) {
    job.enqueue_trials = read_enqueue_trials(*v, file_label(source_path));
  }

  if (const json* v = find(JobKey::refusal_markers)) job.refusal_markers = v->get<std::vector<std::string>>();
  if (const json* v = find(JobKey::system_prompt)) job.system_prompt = v->get<std::string>();
  for (JobKey key : kPromptSetKeys) {
    if (const json* v = find(key)) read_prompt_set(*v, prompt_set_of(job, key));
  }

  if (const json* v = find(JobKey::store)) job.store = v->get<std::string>();
  if (const json* v = find(JobKey::cache)) job.cache = v->get<std::string>();
  if (const json* v = find(JobKey::output)) job.output = v->get<std::string>();
  return job;
}

}  // namespace

std::filesystem::path job_schema_path() {
  const char* override_dir = std::getenv(kSchemaDirVariable);
  const std::filesystem::path dir = override_dir != nullptr && *override_dir != '\0'
                                        ? std::filesystem::path(override_dir)
                                        : std::filesystem::path(ABL_SCHEMA_DIR);
  return dir / kJobSchemaFile;
}

Job parse_job(const std::string& yaml_text, const std::filesystem::path& display_name) {
  const std::string file = file_label(display_name);
  return job_from_document(yaml_to_json(yaml_text, file), display_name, file);
}

Job job_from_document(const json& document, const std::filesystem::path& source_path, const std::string& label) {
  validate_job_document(document, label);
  return typed_job(document, source_path);
}

std::string read_job_text(const std::filesystem::path& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  ABL_CHECK(std::filesystem::exists(status), InputError, "{}: no such job file", path.string());
  ABL_CHECK(!std::filesystem::is_directory(status), InputError, "{}: is a folder; expected a job file (YAML)",
            path.string());
  std::ifstream in(path, std::ios::binary);
  ABL_CHECK(in, IoError, "{}: cannot open: {}", path.string(), std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  ABL_CHECK(!in.bad(), IoError, "{}: cannot read: {}", path.string(), std::strerror(errno));
  return text.str();
}

Job load_job(const std::filesystem::path& path) { return parse_job(read_job_text(path), path); }

json job_to_json(const Job& job) {
  json out = json::object();
  out[key_name(JobKey::model)] = job.model;
  out[key_name(JobKey::adapter)] = optional_json(job.adapter);
  json dtypes = json::array();
  for (DType d : job.dtypes) dtypes.push_back(to_string(d));
  out[key_name(JobKey::dtypes)] = std::move(dtypes);
  out[key_name(JobKey::device)] = job.device;
  out[key_name(JobKey::device_map)] = job.device_map;
  out[key_name(JobKey::evaluate_model)] = optional_json(job.evaluate_model);
  out[key_name(JobKey::quantization)] = to_string(job.quantization);
  out[key_name(JobKey::max_memory)] = optional_json(job.max_memory);
  out[key_name(JobKey::trust_remote_code)] = optional_json(job.trust_remote_code);

  out[key_name(JobKey::batch_size)] = job.batch_size;
  out[key_name(JobKey::max_batch_size)] = job.max_batch_size;
  out[key_name(JobKey::max_response_length)] = job.max_response_length;
  out[key_name(JobKey::print_responses)] = job.print_responses;
  out[key_name(JobKey::response_prefix)] = optional_json(job.response_prefix);
  json skips = json::array();
  for (const ChainOfThoughtSkip& skip : job.chain_of_thought_skips) skips.push_back({skip.start, skip.full});
  out[key_name(JobKey::chain_of_thought_skips)] = std::move(skips);

  out[key_name(JobKey::kl_divergence_scale)] = job.kl_divergence_scale;
  out[key_name(JobKey::kl_divergence_target)] = job.kl_divergence_target;
  out[key_name(JobKey::orthogonalize_direction)] = job.orthogonalize_direction;
  out[key_name(JobKey::row_normalization)] = to_string(job.row_normalization);
  out[key_name(JobKey::full_normalization_lora_rank)] = job.full_normalization_lora_rank;
  out[key_name(JobKey::winsorization_quantile)] = job.winsorization_quantile;
  out[key_name(JobKey::objectives)] = to_string(job.objectives);
  out[key_name(JobKey::print_residual_geometry)] = job.print_residual_geometry;
  out[key_name(JobKey::plot_residuals)] = job.plot_residuals;
  out[key_name(JobKey::residual_plot_path)] = job.residual_plot_path;
  out[key_name(JobKey::residual_plot_title)] = job.residual_plot_title;
  out[key_name(JobKey::residual_plot_style)] = job.residual_plot_style;

  out[key_name(JobKey::n_trials)] = job.n_trials;
  out[key_name(JobKey::n_startup_trials)] = job.n_startup_trials;
  out[key_name(JobKey::sampler)] = to_string(job.sampler);
  out[key_name(JobKey::study_name)] = job.study_name;
  out[key_name(JobKey::seed)] = job.seed;
  out[key_name(JobKey::grace_period)] = job.grace_period;
  out[key_name(JobKey::worker_timeout)] = job.worker_timeout;
  out[key_name(JobKey::trials_per_worker)] = job.trials_per_worker;
  out[key_name(JobKey::study_checkpoint_dir)] = job.study_checkpoint_dir;
  out[key_name(JobKey::enqueue_trials)] = enqueue_trials_to_json(job.enqueue_trials);

  out[key_name(JobKey::refusal_markers)] = job.refusal_markers;
  out[key_name(JobKey::system_prompt)] = job.system_prompt;
  for (JobKey key : kPromptSetKeys) out[key_name(key)] = prompt_set_to_json(prompt_set_of(job, key));

  out[key_name(JobKey::store)] = job.store.string();
  out[key_name(JobKey::cache)] = job.cache.string();
  out[key_name(JobKey::output)] = job.output.string();
  return out;
}

Job job_from_json(const json& settings, const std::filesystem::path& source_path) {
  // Stored settings are checked like a job file: a store written by another
  // version, or edited by hand, must not reach the typed reader unchecked.
  validate_job_document(settings, file_label(source_path));
  return typed_job(settings, source_path);
}

}  // namespace abliterate::config
