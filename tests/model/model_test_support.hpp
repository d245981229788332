// Helpers shared by the model tests: scratch folders and the tiny model.
#pragma once

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "abliterate/model/tiny_model.hpp"

namespace abliterate::model::testing {

// A fresh folder under the system temp dir, removed on destruction. Unique per
// process and call, so tests may run in parallel (ctest -j).
class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("abl_model_test_" + tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// The tiny model with default options (seed 1234), written once per test process.
inline const std::filesystem::path& tiny_model_folder() {
  static const TempDir dir("tiny");
  static const bool written = [] {
    write_tiny_model(dir.path() / "tiny", TinyModelOptions{});
    return true;
  }();
  (void)written;
  static const std::filesystem::path folder = dir.path() / "tiny";
  return folder;
}

inline std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

inline void write_bytes(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

}  // namespace abliterate::model::testing
