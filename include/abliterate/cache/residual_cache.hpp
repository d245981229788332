// Module cache: the HDF5 preparation cache (directions, means, baselines) and its fingerprint.
// Must not know: models, stores or MPI: it holds tensors and files.
//
// The HDF5 cache of a study's preparation phase: refusal directions, residual
// means and baselines, keyed by a fingerprint of everything they depend on.
// Layout (format version 1), all datasets at the root:
//   attribute  format_version  int32 = 1
//   attribute  fingerprint     string
//   /directions          float32 [L+1, d]   unit rows
//   /good_means          float32 [L+1, d]
//   /bad_means           float32 [L+1, d]
//   /baseline_logprobs   float32 [N_good_eval, V]
//   attribute  refusals_baseline  int64
//   attribute  n_bad_evaluation_prompts int64
//   attribute  response_prefix string
// Strings are written variable-length UTF-8 (fixed-length ones are read too),
// floats little-endian IEEE float32, integers little-endian.
// Writes go to "<path>.tmp" and are renamed into place, so a crash never leaves
// a half-written cache. Only rank 0 reads or writes it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace abliterate::cache {

inline constexpr int32_t kFormatVersion = 1;

struct Preparation {
  torch::Tensor directions;         // float32 [L+1, d]
  torch::Tensor good_means;         // float32 [L+1, d]
  torch::Tensor bad_means;          // float32 [L+1, d]
  torch::Tensor baseline_logprobs;  // float32 [N_good_eval, V]
  int64_t refusals_baseline = 0;
  int64_t n_bad_evaluation_prompts = 0;
  std::string response_prefix;
};

// Incremental 64-bit FNV-1a, for fingerprints (not for security). add() hashes
// the bytes exactly as given, so ("ab", "c") and ("a", "bc") collide: callers
// separate their fields themselves (e.g. "key=value\n").
class Fingerprint {
 public:
  Fingerprint& add(const std::string& bytes);
  // A file's contents; one over kWholeFileFingerprintBytes by its size,
  // modification time and first and last MiB (see sampled_files). Throws IoError.
  Fingerprint& add_file(const std::filesystem::path& file);
  std::string hex() const;

  // The files add_file keyed by size, mtime and ends rather than every byte,
  // so that the caller can say so.
  const std::vector<std::filesystem::path>& sampled_files() const { return sampled_files_; }

 private:
  uint64_t state_ = 14695981039346656037ull;  // the FNV-1a 64-bit offset basis (0xcbf29ce484222325)
  std::vector<std::filesystem::path> sampled_files_;
};

// Files up to this size are fingerprinted byte by byte. Larger ones (the
// weights of big models) by size, mtime and their first and last MiB: every
// byte of a 140 GB checkpoint would cost minutes on every run and resume, and
// a changed file almost always changes its size, its mtime or a header.
inline constexpr uintmax_t kWholeFileFingerprintBytes = uintmax_t{1} << 30;

// The cached preparation when `path` exists and its fingerprint matches;
// nullopt when the file is absent or was made for other inputs. Throws
// FormatError naming the file and dataset when it exists but is corrupt or
// its shapes disagree with each other.
std::optional<Preparation> read_preparation(const std::filesystem::path& path, const std::string& fingerprint);

// Writes (replaces) the cache atomically. Throws IoError.
void write_preparation(const std::filesystem::path& path, const std::string& fingerprint, const Preparation& prep);

}  // namespace abliterate::cache
