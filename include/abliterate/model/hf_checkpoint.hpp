// The weights of an HF model folder: model.safetensors, or the shards named by
// model.safetensors.index.json (spec/model-runtime.md §4 "Sharding"). Like
// llama.cpp's model loader, it checks each tensor's shape as it is taken and
// remembers which tensors were used, so the caller can reject leftovers.
// Owns the mapped files; not thread-safe (take() records use).
#pragma once

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "abliterate/formats/safetensors_reader.hpp"
#include "abliterate/model/tensor_source.hpp"

namespace abliterate::model {

class HfCheckpoint final : public TensorSource {
 public:
  // Opens folder/model.safetensors, else the shards of
  // folder/model.safetensors.index.json. Throws IoError naming the missing
  // path, FormatError for a malformed index or shard (a tensor in two shards,
  // a shard that lacks a tensor its index promises).
  static HfCheckpoint open(const std::filesystem::path& folder);

  bool contains(const std::string& name) const override { return shard_of_.count(name) != 0; }

  // Tensor `name` with exactly `expected_shape`, converted to `options`
  // (dtype, device), and marked used. Throws FormatError "file: tensor 'name':
  // expected shape [..], got [..]" or "... is missing".
  torch::Tensor take(const std::string& name, const std::vector<int64_t>& expected_shape,
                     const torch::TensorOptions& options) override;

  // Tensors never taken, in name order.
  std::vector<std::string> unused_names() const override;
  // The file holding `name` (for messages); the folder's main file when absent.
  std::string file_of(const std::string& name) const override;

  // The stored dtype and shape of tensor `name`, for callers that copy every
  // tensor as it is (export). Throws FormatError when there is no such tensor.
  const formats::SafetensorsTensorInfo& info_of(const std::string& name) const;

 private:
  std::filesystem::path main_file_;
  std::vector<formats::SafetensorsReader> shards_;
  std::map<std::string, size_t> shard_of_;
  std::set<std::string> used_;
};

// "[2, 3]".
std::string format_shape(const std::vector<int64_t>& shape);

}  // namespace abliterate::model
