// HfCheckpoint: see include/abliterate/model/hf_checkpoint.hpp.
#include "abliterate/model/hf_checkpoint.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "abliterate/common/error.hpp"
#include "abliterate/formats/hf_folder.hpp"
#include "abliterate/formats/json_file.hpp"

namespace abliterate::model {

std::string format_shape(const std::vector<int64_t>& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

HfCheckpoint HfCheckpoint::open(const std::filesystem::path& folder) {
  HfCheckpoint checkpoint;
  std::error_code ec;
  const auto single = folder / formats::kHfWeightsFile;
  const auto index = folder / formats::kHfWeightsIndexFile;
  if (std::filesystem::is_regular_file(single, ec) || !std::filesystem::is_regular_file(index, ec)) {
    ABL_CHECK(std::filesystem::is_regular_file(single, ec), IoError, "{}: no such file (nor {})", single.string(),
              index.string());
    checkpoint.main_file_ = single;
    checkpoint.shards_.push_back(formats::SafetensorsReader::open(single));
    for (const auto& info : checkpoint.shards_[0].tensors()) checkpoint.shard_of_[info.name] = 0;
    return checkpoint;
  }

  checkpoint.main_file_ = index;
  const nlohmann::json root = formats::read_json_file(index);
  const std::string file = index.string();
  ABL_CHECK(root.is_object() && root.contains("weight_map") && root.at("weight_map").is_object(), FormatError,
            "{}: missing object 'weight_map'", file);
  std::map<std::string, size_t> shard_by_file;
  std::map<std::string, std::string> promised;  // tensor -> shard file, from the index
  for (const auto& [name, shard_json] : root.at("weight_map").items()) {
    ABL_CHECK(shard_json.is_string(), FormatError, "{}: weight_map[\"{}\"]: expected a file name", file, name);
    const std::string shard_name = shard_json.get<std::string>();
    ABL_CHECK(std::filesystem::path(shard_name).filename().string() == shard_name, FormatError,
              "{}: weight_map[\"{}\"]: shard \"{}\" must be a file name inside the folder", file, name, shard_name);
    if (!shard_by_file.count(shard_name)) {
      shard_by_file[shard_name] = checkpoint.shards_.size();
      checkpoint.shards_.push_back(formats::SafetensorsReader::open(folder / shard_name));
    }
    promised[name] = shard_name;
  }
  for (size_t shard_idx = 0; shard_idx < checkpoint.shards_.size(); ++shard_idx) {
    const auto& shard = checkpoint.shards_[shard_idx];
    for (const auto& info : shard.tensors()) {
      ABL_CHECK(!checkpoint.shard_of_.count(info.name), FormatError, "{}: tensor '{}' is also in {}",
                shard.path().string(), info.name, checkpoint.shards_[checkpoint.shard_of_[info.name]].path().string());
      checkpoint.shard_of_[info.name] = shard_idx;
    }
  }
  for (const auto& [name, shard_name] : promised) {
    const auto it = checkpoint.shard_of_.find(name);
    ABL_CHECK(it != checkpoint.shard_of_.end() && it->second == shard_by_file[shard_name], FormatError,
              "{}: tensor '{}' is listed in {} but that shard does not hold it", (folder / shard_name).string(), name,
              file);
  }
  return checkpoint;
}

torch::Tensor HfCheckpoint::take(const std::string& name, const std::vector<int64_t>& expected_shape,
                                 const torch::TensorOptions& options) {
  const auto it = shard_of_.find(name);
  ABL_CHECK(it != shard_of_.end(), FormatError, "{}: tensor '{}' is missing (expected shape {})", main_file_.string(),
            name, format_shape(expected_shape));
  const formats::SafetensorsReader& shard = shards_[it->second];
  const formats::SafetensorsTensorInfo* info = shard.find(name);
  ABL_CHECK(info->shape == expected_shape, FormatError, "{}: tensor '{}': expected shape {}, got {}",
            shard.path().string(), name, format_shape(expected_shape), format_shape(info->shape));
  used_.insert(name);
  return shard.read(name).to(options);
}

std::vector<std::string> HfCheckpoint::unused_names() const {
  std::vector<std::string> unused;
  for (const auto& [name, shard_idx] : shard_of_) {
    if (!used_.count(name)) unused.push_back(name);
  }
  return unused;
}

const formats::SafetensorsTensorInfo& HfCheckpoint::info_of(const std::string& name) const {
  const auto it = shard_of_.find(name);
  ABL_CHECK(it != shard_of_.end(), FormatError, "{}: tensor '{}' is missing", main_file_.string(), name);
  return *shards_[it->second].find(name);
}

std::string HfCheckpoint::file_of(const std::string& name) const {
  const auto it = shard_of_.find(name);
  return it == shard_of_.end() ? main_file_.string() : shards_[it->second].path().string();
}

}  // namespace abliterate::model
