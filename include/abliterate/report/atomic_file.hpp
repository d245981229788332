// Writing an output file so that readers never see half of it: the text goes
// to a temporary file beside the target, which is renamed over it at the end
// (leveldb's SetCurrentFile). A failed write removes the temporary file and
// leaves any earlier target untouched.
#pragma once

#include <filesystem>
#include <string_view>

namespace abliterate::report {

// Writes `text` to `path` through "<path>.tmp-<pid>". Throws IoError naming
// the file when it cannot be written or renamed (a missing folder, a full disk).
void write_file_atomically(const std::filesystem::path& path, std::string_view text);

}  // namespace abliterate::report
