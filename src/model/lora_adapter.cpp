// LoraAdapter and AdaptedTensorSource: see include/abliterate/model/lora_adapter.hpp.
#include "abliterate/model/lora_adapter.hpp"

#include <cmath>
#include <optional>

#include <nlohmann/json.hpp>

#include "abliterate/common/error.hpp"
#include "abliterate/formats/json_file.hpp"
#include "abliterate/formats/safetensors_reader.hpp"
#include "abliterate/model/hf_checkpoint.hpp"
#include "abliterate/model/tensor_names.hpp"

namespace abliterate::model {

namespace {

// PEFT saves every key under the wrapped model's path, without the adapter name.
constexpr std::string_view kPeftKeyPrefix = "base_model.model.";
constexpr std::string_view kLoraASuffix = ".lora_A.weight";
constexpr std::string_view kLoraBSuffix = ".lora_B.weight";

// The projections an adapter may target: each is a plain nn.Linear in every family.
constexpr LayerTensor kAdaptableTensors[] = {LayerTensor::q_proj,    LayerTensor::k_proj,  LayerTensor::v_proj,
                                             LayerTensor::o_proj,    LayerTensor::gate_proj, LayerTensor::up_proj,
                                             LayerTensor::down_proj};

// The adapter_config.json settings that change what the weights mean; each must be at its plain-LoRA value.
void check_config(const nlohmann::json& config, const std::string& file) {
  ABL_CHECK(config.is_object(), FormatError, "{}: expected a JSON object", file);
  const std::string peft_type = config.value("peft_type", std::string("LORA"));
  ABL_CHECK(peft_type == "LORA", FormatError,
            "{}: key 'peft_type': \"{}\" is not supported (expected \"LORA\"; other PEFT methods change the "
            "weights in other ways)", file, peft_type);
  auto flag = [&](const char* key) {
    return config.contains(key) && config.at(key).is_boolean() && config.at(key).get<bool>();
  };
  ABL_CHECK(!flag("use_dora"), FormatError,
            "{}: key 'use_dora': DoRA adapters are not supported (their merge rescales each column by a learned "
            "magnitude); merge it with PEFT's merge_and_unload() and pass the merged folder as the model", file);
  ABL_CHECK(!flag("fan_in_fan_out"), FormatError,
            "{}: key 'fan_in_fan_out': true is for GPT-2 style Conv1D weights, which no supported model family has",
            file);
  ABL_CHECK(!flag("lora_bias"), FormatError, "{}: key 'lora_bias': LoRA bias terms are not supported", file);
  const bool has_bias = config.contains("bias") && config.at("bias").is_string();
  const std::string bias = has_bias ? config.at("bias").get<std::string>() : std::string("none");
  ABL_CHECK(bias == "none", FormatError, "{}: key 'bias': \"{}\" is not supported (expected \"none\")", file, bias);
  for (const char* key : {"alpha_pattern", "modules_to_save"}) {
    const bool empty = !config.contains(key) || config.at(key).is_null() || config.at(key).empty();
    ABL_CHECK(empty, FormatError, "{}: key '{}': {} is not supported (expected it empty or null)", file, key,
              config.at(key).dump());
  }
  for (const char* key : {"r", "lora_alpha"}) {
    ABL_CHECK(config.contains(key) && config.at(key).is_number() && config.at(key).get<double>() > 0, FormatError,
              "{}: key '{}': expected a positive number, got {}", file, key,
              config.contains(key) ? config.at(key).dump() : std::string("nothing"));
  }
}

// "base_model.model.<module>.lora_A.weight" -> ("<module>.weight", 'A').
std::optional<std::pair<std::string, char>> parse_key(const std::string& key) {
  if (!key.starts_with(kPeftKeyPrefix)) return std::nullopt;
  for (const auto& [suffix, matrix] : {std::pair{kLoraASuffix, 'A'}, std::pair{kLoraBSuffix, 'B'}}) {
    if (key.size() > kPeftKeyPrefix.size() + suffix.size() && key.ends_with(suffix)) {
      const std::string module =
          key.substr(kPeftKeyPrefix.size(), key.size() - kPeftKeyPrefix.size() - suffix.size());
      return std::pair{module + ".weight", matrix};
    }
  }
  return std::nullopt;
}

// "model.layers.0.self_attn.q_proj.weight" -> "model.layers.0.self_attn.q_proj".
std::string module_of(const std::string& weight_name) {
  return weight_name.substr(0, weight_name.size() - std::string_view(".weight").size());
}

// True when `hf_name` is "<prefix>layers.<i>.<suffix>" of an adaptable projection.
bool is_adaptable_projection(const std::string& hf_name) {
  for (LayerTensor tensor : kAdaptableTensors) {
    const std::string suffix = std::string(".") + hf_layer_suffix(tensor);
    if (hf_name.ends_with(suffix) && hf_name.find("layers.") != std::string::npos) return true;
  }
  return false;
}

}  // namespace

LoraAdapter LoraAdapter::open(const std::filesystem::path& folder) {
  std::error_code ec;
  ABL_CHECK(std::filesystem::is_directory(folder, ec), IoError,
            "{}: no such adapter folder (expected a PEFT LoRA adapter: {} and {})", folder.string(),
            kAdapterConfigFile, kAdapterWeightsFile);
  const std::filesystem::path config_path = folder / kAdapterConfigFile;
  const std::filesystem::path weights_path = folder / kAdapterWeightsFile;
  ABL_CHECK(std::filesystem::is_regular_file(config_path, ec), IoError, "{}: no such file (a PEFT adapter folder "
            "holds {} and {})", config_path.string(), kAdapterConfigFile, kAdapterWeightsFile);
  ABL_CHECK(std::filesystem::is_regular_file(weights_path, ec), IoError, "{}: no such file (a PEFT adapter folder "
            "holds {} and {}; adapter_model.bin, the pickle format, is not read)", weights_path.string(),
            kAdapterConfigFile, kAdapterWeightsFile);
  const nlohmann::json config = formats::read_json_file(config_path);
  check_config(config, config_path.string());
  const double alpha = config.at("lora_alpha").get<double>();
  const bool rslora = config.value("use_rslora", false);

  const formats::SafetensorsReader reader = formats::SafetensorsReader::open(weights_path);
  const std::string file = weights_path.string();
  std::map<std::string, std::map<char, torch::Tensor>> matrices;  // weight name -> 'A' / 'B'
  for (const formats::SafetensorsTensorInfo& info : reader.tensors()) {
    const auto parsed = parse_key(info.name);
    ABL_CHECK(parsed.has_value(), FormatError,
              "{}: key '{}' is not a LoRA weight (expected 'base_model.model.<module>.lora_A.weight' or "
              "'.lora_B.weight'; DoRA magnitudes, embedding adapters and saved modules are not supported)",
              file, info.name);
    ABL_CHECK(info.shape.size() == 2, FormatError, "{}: key '{}': expected a matrix, got shape {}", file, info.name,
              format_shape(info.shape));
    matrices[parsed->first][parsed->second] = reader.read(info.name).to(torch::kFloat32);
  }
  ABL_CHECK(!matrices.empty(), FormatError, "{}: the adapter holds no LoRA weights", file);

  LoraAdapter adapter;
  adapter.folder_ = folder;
  for (auto& [weight_name, pair] : matrices) {
    const std::string key_a = adapter.key_of(weight_name, "A");
    const std::string key_b = adapter.key_of(weight_name, "B");
    ABL_CHECK(pair.count('A') && pair.count('B'), FormatError, "{}: key '{}' has no partner '{}'", file,
              pair.count('A') ? key_a : key_b, pair.count('A') ? key_b : key_a);
    const torch::Tensor& a = pair.at('A');  // [r, in]
    const torch::Tensor& b = pair.at('B');  // [out, r]
    ABL_CHECK(a.size(0) == b.size(1), FormatError, "{}: keys '{}' {} and '{}' {}: the ranks differ", file, key_a,
              format_shape(a.sizes().vec()), key_b, format_shape(b.sizes().vec()));
    ABL_CHECK(torch::isfinite(a).all().item<bool>() && torch::isfinite(b).all().item<bool>(), FormatError,
              "{}: key '{}' or '{}' holds NaN or infinite values", file, key_a, key_b);
    // PEFT scales by the module's own rank (rank_pattern may differ from `r`).
    const auto rank = static_cast<double>(a.size(0));
    adapter.updates_[weight_name] = LoraUpdate{a, b, rslora ? alpha / std::sqrt(rank) : alpha / rank};
  }
  return adapter;
}

std::string LoraAdapter::key_of(const std::string& weight_name, const char* matrix) const {
  return std::string(kPeftKeyPrefix) + module_of(weight_name) + ".lora_" + matrix + ".weight";
}

AdaptedTensorSource::AdaptedTensorSource(TensorSource& base, const LoraAdapter& adapter)
    : base_(base), adapter_(adapter) {
  const std::string file = (adapter.folder() / kAdapterWeightsFile).string();
  for (const auto& [weight_name, update] : adapter.updates()) {
    ABL_CHECK(is_adaptable_projection(weight_name), FormatError,
              "{}: key '{}': target module '{}' is not supported (expected the q_proj, k_proj, v_proj, o_proj, "
              "gate_proj, up_proj or down_proj of a decoder layer)", file, adapter.key_of(weight_name, "A"),
              module_of(weight_name));
    ABL_CHECK(base.contains(weight_name), FormatError,
              "{}: key '{}': the model ({}) has no weight '{}'; is the adapter for another model?", file,
              adapter.key_of(weight_name, "A"), base.file_of(weight_name), weight_name);
  }
}

torch::Tensor AdaptedTensorSource::take(const std::string& hf_name, const std::vector<int64_t>& expected_shape,
                                        const torch::TensorOptions& options) {
  const auto it = adapter_.updates().find(hf_name);
  if (it == adapter_.updates().end()) return base_.take(hf_name, expected_shape, options);
  const LoraUpdate& update = it->second;
  const std::string file = (adapter_.folder() / kAdapterWeightsFile).string();
  ABL_CHECK(expected_shape.size() == 2 && update.b.size(0) == expected_shape[0] &&
                update.a.size(1) == expected_shape[1],
            FormatError, "{}: keys '{}' {} and '{}' {} make a {}x{} update, but the model's '{}' is {}", file,
            adapter_.key_of(hf_name, "A"), format_shape(update.a.sizes().vec()), adapter_.key_of(hf_name, "B"),
            format_shape(update.b.sizes().vec()), update.b.size(0), update.a.size(1), hf_name,
            format_shape(expected_shape));
  // Merged in float32 on the CPU, as PEFT merges an adapter it has cast to float32, then converted.
  torch::Tensor weight = base_.take(hf_name, expected_shape, torch::TensorOptions().dtype(torch::kFloat32));
  weight.add_(torch::mm(update.b, update.a), update.scale);
  return weight.to(options);
}

}  // namespace abliterate::model
