// The files of a Hugging Face model folder, by name: the loaders read them,
// the tiny-model writer writes them, and the preparation fingerprint hashes
// every one that defines the model (kHfModelFiles), so a file added to the
// loaders is one added to the cache key.
#pragma once

#include <array>

namespace abliterate::formats {

inline constexpr const char* kHfConfigFile = "config.json";
inline constexpr const char* kHfGenerationConfigFile = "generation_config.json";
inline constexpr const char* kHfTokenizerFile = "tokenizer.json";
inline constexpr const char* kHfTokenizerConfigFile = "tokenizer_config.json";
inline constexpr const char* kHfChatTemplateFile = "chat_template.jinja";
inline constexpr const char* kHfWeightsFile = "model.safetensors";                    // one-file checkpoint
inline constexpr const char* kHfWeightsIndexFile = "model.safetensors.index.json";    // sharded: names the shards

// Every file above: what makes one model folder another.
inline constexpr std::array<const char*, 7> kHfModelFiles = {
    kHfConfigFile,       kHfGenerationConfigFile, kHfTokenizerFile,    kHfTokenizerConfigFile,
    kHfChatTemplateFile, kHfWeightsFile,          kHfWeightsIndexFile,
};

}  // namespace abliterate::formats
