// The preparation fingerprint covers every file the model loads: a sharded
// checkpoint's shards and a LoRA adapter's files (issue 10), so a changed
// weight can never reuse a stale cache.
#include "abliterate/runner/study_inputs.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace abliterate::runner {
namespace {

class ScratchDir {
 public:
  ScratchDir() : path_(std::filesystem::temp_directory_path() / ("abl_study_inputs_" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

TEST(PreparationFingerprintTest, CoversShardsAndAdapterFiles) {
  const ScratchDir dir;
  const auto model = dir.path() / "model";
  write_file(model / "config.json", "{}");
  write_file(model / "model.safetensors.index.json",
             R"({"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}})");
  write_file(model / "model-00001-of-00002.safetensors", "first shard");
  write_file(model / "model-00002-of-00002.safetensors", "second shard");
  config::Job job;
  job.source_path = dir.path() / "job.yaml";
  job.model = "model";
  const StudyInputs inputs;
  const std::string original = preparation_fingerprint(job, inputs);
  EXPECT_EQ(preparation_fingerprint(job, inputs), original);

  write_file(model / "model-00002-of-00002.safetensors", "second shard, fine-tuned");
  const std::string changed_shard = preparation_fingerprint(job, inputs);
  EXPECT_NE(changed_shard, original) << "a changed shard must change the fingerprint";

  write_file(dir.path() / "lora" / "adapter_config.json", R"({"r": 8, "lora_alpha": 16})");
  write_file(dir.path() / "lora" / "adapter_model.safetensors", "weights");
  job.adapter = "lora";
  const std::string with_adapter = preparation_fingerprint(job, inputs);
  EXPECT_NE(with_adapter, changed_shard) << "an adapter makes another model";
  write_file(dir.path() / "lora" / "adapter_model.safetensors", "other weights");
  EXPECT_NE(preparation_fingerprint(job, inputs), with_adapter) << "a changed adapter must change the fingerprint";
  write_file(dir.path() / "lora" / "adapter_config.json", R"({"r": 8, "lora_alpha": 32})");
  EXPECT_NE(preparation_fingerprint(job, inputs), with_adapter);
}

}  // namespace
}  // namespace abliterate::runner
