#include "abliterate/report/atomic_file.hpp"

#include <gtest/gtest.h>

#include "abliterate/common/error.hpp"
#include "study/temp_dir.hpp"
#include "support/throws_with.hpp"

namespace abliterate::report {
namespace {

using study::testing::read_bytes;
using study::testing::TempDir;

size_t count_entries(const std::filesystem::path& folder) {
  return static_cast<size_t>(std::distance(std::filesystem::directory_iterator(folder), {}));
}

TEST(AtomicFile, ReplacesTheTargetAndLeavesNoTemporaryFile) {
  TempDir dir;
  const std::filesystem::path path = dir / "report.html";
  write_file_atomically(path, "first");
  write_file_atomically(path, "second, longer");
  EXPECT_EQ(read_bytes(path), "second, longer");
  EXPECT_EQ(count_entries(dir.path()), 1u);
}

TEST(AtomicFile, AFailedWriteNamesTheFileAndLeavesNothing) {
  TempDir dir;
  const std::filesystem::path path = dir / "no-such-folder" / "report.html";
  ASSERT_THROWS_WITH(write_file_atomically(path, "text"), IoError, path.string() + ": cannot write");
  EXPECT_EQ(count_entries(dir.path()), 0u);

  // A folder in the way of the rename: the temporary file is removed again.
  const std::filesystem::path blocked = dir / "blocked.html";
  std::filesystem::create_directories(blocked / "inside");
  ASSERT_THROWS_WITH(write_file_atomically(blocked, "text"), IoError, blocked.string() + ": cannot rename");
  EXPECT_EQ(count_entries(dir.path()), 1u);
}

}  // namespace
}  // namespace abliterate::report
