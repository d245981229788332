// Torch-free helpers for the tokenizer tests: write a tokenizer.json to a
// scratch file and load it.
#pragma once

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "abliterate/tokenizer/tokenizer.hpp"

namespace abliterate::model::testing {

// Writes `document` to a fresh temp file, loads it, removes the file.
inline tokenizer::Tokenizer load_tokenizer_json(const nlohmann::json& document) {
  static std::atomic<int> counter{0};
  const std::filesystem::path path = std::filesystem::temp_directory_path() /
                                     ("abl_tokenizer_test_" + std::to_string(::getpid()) + "_" +
                                      std::to_string(counter++) + ".json");
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << document.dump();
  }
  struct Remove {
    std::filesystem::path path;
    ~Remove() {
      std::error_code ec;
      std::filesystem::remove(path, ec);
    }
  } remove{path};
  return tokenizer::Tokenizer::from_tokenizer_json(path);
}

}  // namespace abliterate::model::testing
