// See atomic_file.hpp.
#include "abliterate/report/atomic_file.hpp"

#include <unistd.h>

#include <fstream>

#include <fmt/format.h>

#include "abliterate/common/error.hpp"

namespace abliterate::report {

void write_file_atomically(const std::filesystem::path& path, std::string_view text) {
  // The pid keeps two reports written at once into one folder apart.
  std::filesystem::path temp_path = path;
  temp_path += fmt::format(".tmp-{}", ::getpid());
  bool is_written = false;
  {
    std::ofstream out(temp_path, std::ios::binary | std::ios::trunc);
    if (out.good()) {
      out.write(text.data(), static_cast<std::streamsize>(text.size()));
      out.flush();
      is_written = out.good();
    }
  }
  std::error_code ec;
  if (!is_written) {
    std::filesystem::remove(temp_path, ec);
    throw IoError(fmt::format("{}: cannot write {} (is the folder there and writable, the disk not full?)",
                              path.string(), temp_path.string()));
  }
  std::filesystem::rename(temp_path, path, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(temp_path, ignored);
    throw IoError(fmt::format("{}: cannot rename {} into place: {}", path.string(), temp_path.string(), ec.message()));
  }
}

}  // namespace abliterate::report
