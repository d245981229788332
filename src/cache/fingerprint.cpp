// 64-bit FNV-1a over the bytes given, in order (the cache key; not for
// security). See residual_cache.hpp.
#include <array>
#include <chrono>
#include <fstream>
#include <system_error>

#include <fmt/format.h>

#include "abliterate/cache/residual_cache.hpp"
#include "abliterate/common/error.hpp"

namespace abliterate::cache {
namespace {

// FNV-1a 64-bit prime (http://www.isthe.com/chongo/tech/comp/fnv/); the
// offset basis is the initial value of Fingerprint::state_.
constexpr uint64_t kFnvPrime = 1099511628211ull;

uint64_t fnv1a(uint64_t state, const char* data, size_t size) {
  for (size_t byte_idx = 0; byte_idx < size; ++byte_idx) {
    state ^= static_cast<unsigned char>(data[byte_idx]);
    state *= kFnvPrime;
  }
  return state;
}

}  // namespace

Fingerprint& Fingerprint::add(const std::string& bytes) {
  state_ = fnv1a(state_, bytes.data(), bytes.size());
  return *this;
}

Fingerprint& Fingerprint::add_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  ABL_CHECK(in.is_open(), IoError, "{}: cannot open for fingerprinting", file.string());
  constexpr size_t kChunkBytes = 1 << 20;
  std::vector<char> chunk(kChunkBytes);
  std::error_code error;
  const uintmax_t size = std::filesystem::file_size(file, error);
  ABL_CHECK(!error, IoError, "{}: cannot read its size for fingerprinting: {}", file.string(), error.message());
  if (size > kWholeFileFingerprintBytes) {
    const auto mtime = std::filesystem::last_write_time(file, error);
    ABL_CHECK(!error, IoError, "{}: cannot read its modification time: {}", file.string(), error.message());
    add(fmt::format("size:{} mtime:{}\n", size, mtime.time_since_epoch().count()));
    for (const uintmax_t offset : {uintmax_t{0}, size - kChunkBytes}) {
      in.seekg(static_cast<std::streamoff>(offset));
      in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
      ABL_CHECK(in.gcount() == static_cast<std::streamsize>(chunk.size()), IoError,
                "{}: read error while fingerprinting at byte {}", file.string(), offset);
      state_ = fnv1a(state_, chunk.data(), chunk.size());
    }
    sampled_files_.push_back(file);
    return *this;
  }
  while (in) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    state_ = fnv1a(state_, chunk.data(), static_cast<size_t>(in.gcount()));
  }
  ABL_CHECK(in.eof(), IoError, "{}: read error while fingerprinting", file.string());
  return *this;
}

std::string Fingerprint::hex() const { return fmt::format("{:016x}", state_); }

}  // namespace abliterate::cache
