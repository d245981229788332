#include "abliterate/slurm/sbatch_submit.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "abliterate/common/error.hpp"
#include "support/scoped_env.hpp"
#include "support/throws_with.hpp"

namespace abliterate::slurm {
namespace {

namespace fs = std::filesystem;

// A fake sbatch in a folder of its own, put first on PATH for the test.
class SbatchSubmit : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("abl-sbatch-submit-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_.emplace("PATH", dir_.string());
  }
  void TearDown() override {
    path_.reset();
    fs::remove_all(dir_);
  }

  void fake_sbatch(const std::string& body) {
    const fs::path path = dir_ / "sbatch";
    std::ofstream(path) << "#!/bin/bash\n" << body;
    fs::permissions(path, fs::perms::owner_all);
  }

  std::string read(const std::string& name) {
    std::ifstream in(dir_ / name, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  fs::path dir_;
  std::optional<ScopedEnv> path_;  // PATH with dir_ alone, while the test runs
};

TEST_F(SbatchSubmit, PipesTheScriptAndReturnsTheJobId) {
  // PATH holds the fake alone: it names every other program by its full path.
  fake_sbatch("/bin/cat > " + (dir_ / "stdin").string() + "; echo \"$@\" > " + (dir_ / "args").string() +
              "; echo '1234;cluster'\n");
  const std::string script = "#!/bin/bash\n#SBATCH --nodes=1\necho 'it'\\''s'\n";
  EXPECT_EQ(submit_with_sbatch(script), "1234");
  EXPECT_EQ(read("stdin"), script);
  EXPECT_EQ(read("args"), "--parsable\n");
}

TEST_F(SbatchSubmit, ALargeScriptIsWrittenWhileOutputIsRead) {
  // More than a pipe holds both ways: a writer that did not read as it wrote would deadlock.
  fake_sbatch("/bin/cat >&2; /bin/cat \"$0\" > /dev/null; echo 77\n");
  const std::string script(1 << 20, 'x');
  EXPECT_EQ(submit_with_sbatch(script), "77");
}

TEST_F(SbatchSubmit, AFailingSbatchIsReportedWithItsStderr) {
  fake_sbatch("echo 'sbatch: error: invalid partition specified: gpu' >&2; exit 1\n");
  ASSERT_THROWS_WITH(submit_with_sbatch("#!/bin/bash\n"), InputError,
                     "failed (exit code 1): sbatch: error: invalid partition specified: gpu");
}

TEST_F(SbatchSubmit, AnSbatchThatReadsNothingDoesNotKillUs) {
  fake_sbatch("echo 'sbatch: error: no' >&2; exit 2\n");
  ASSERT_THROWS_WITH(submit_with_sbatch(std::string(1 << 20, 'x')), InputError, "failed (exit code 2)");
}

TEST_F(SbatchSubmit, NoJobIdIsAnError) {
  fake_sbatch("/bin/cat > /dev/null; echo 'Submitted batch job'\n");
  ASSERT_THROWS_WITH(submit_with_sbatch("#!/bin/bash\n"), InputError, "printed no job id");
}

TEST_F(SbatchSubmit, NoSbatchOnPath) {
  ASSERT_THROWS_WITH(submit_with_sbatch("#!/bin/bash\n"), InputError, "sbatch is not on PATH (" + dir_.string() + ")");
}

}  // namespace
}  // namespace abliterate::slurm
