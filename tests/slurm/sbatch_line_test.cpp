#include "abliterate/slurm/sbatch_line.hpp"

#include <gtest/gtest.h>

#include "abliterate/common/error.hpp"
#include "support/throws_with.hpp"

namespace abliterate::slurm {
namespace {

TEST(SbatchLine, WritesSlurmsOwnSyntaxes) {
  EXPECT_EQ(sbatch_line("time", "1-00:30:00"), "#SBATCH --time=1-00:30:00");
  EXPECT_EQ(sbatch_line("partition", "gpu,a100"), "#SBATCH --partition=gpu,a100");
  EXPECT_EQ(sbatch_line("array", "0-9%2"), "#SBATCH --array=0-9%2");
  EXPECT_EQ(sbatch_line("signal", "B:USR1@90"), "#SBATCH --signal=B:USR1@90");
  EXPECT_EQ(sbatch_line("nodelist", "node[01-04]"), "#SBATCH --nodelist=node[01-04]");
  EXPECT_EQ(sbatch_flag_line("requeue"), "#SBATCH --requeue");
}

TEST(SbatchLine, RefusesANewlineNamingTheOption) {
  ASSERT_THROWS_WITH(sbatch_line("partition", "gpu\n#SBATCH --account=other"), InputError,
                     "--partition: \"gpu\\n#SBATCH --account=other\" cannot go on an #SBATCH line: a newline");
}

TEST(SbatchLine, RefusesWhatSbatchWouldReadDifferently) {
  ASSERT_THROWS_WITH(sbatch_line("account", "my account"), InputError, "--account: \"my account\"");
  ASSERT_THROWS_WITH(sbatch_line("account", "my account"), InputError, "a space (sbatch splits the line at blanks)");
  ASSERT_THROWS_WITH(sbatch_line("qos", "high#x"), InputError, "'#' (sbatch reads the rest of the line as a comment)");
  ASSERT_THROWS_WITH(sbatch_line("qos", "it's"), InputError, "sbatch reads it as a quote");
  ASSERT_THROWS_WITH(sbatch_line("qos", "a\\b"), InputError, "sbatch reads it as an escape");
  ASSERT_THROWS_WITH(sbatch_line("qos", "$(id)"), InputError, "'$' at position 1");
  ASSERT_THROWS_WITH(sbatch_line("time", "1\t2"), InputError, "a tab");
  ASSERT_THROWS_WITH(sbatch_line("time", "caf\xc3\xa9"), InputError, "the non-ASCII byte 0xc3 at position 4");
}

TEST(SbatchLine, RefusesAnEmptyValue) {
  ASSERT_THROWS_WITH(sbatch_line("qos", ""), InputError, "--qos: the value is empty");
}

TEST(SbatchLine, SafeReplacesWhatCannotGoThere) {
  EXPECT_EQ(sbatch_safe("my job's $(x)"), "my_job_s___x_");
  EXPECT_EQ(sbatch_safe("gemma-3_270m.v2"), "gemma-3_270m.v2");
}

}  // namespace
}  // namespace abliterate::slurm
