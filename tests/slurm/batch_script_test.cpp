#include "abliterate/slurm/batch_script.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "abliterate/common/error.hpp"
#include "support/throws_with.hpp"

namespace abliterate::slurm {
namespace {

namespace fs = std::filesystem;

BatchRequest study_request(int64_t n_nodes, int64_t n_gpus_per_node) {
  BatchRequest request;
  request.job_name = "abliterate-x";
  request.abliterate_path = "/opt/abliterate/bin/abliterate";
  request.work_dir = "/scratch/runs";
  request.resources.n_nodes = n_nodes;
  request.resources.n_workers_per_node = n_gpus_per_node;
  request.run = StudyRun{"/scratch/jobs/x.yaml"};
  return request;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

TEST(BatchScript, TwoNodesOfFourGpusRunNineRanks) {
  const std::string script = render_batch_script(study_request(2, 4));
  EXPECT_EQ(n_tasks(study_request(2, 4).resources), 9);
  EXPECT_TRUE(script.starts_with("#!/bin/bash\n")) << script;
  EXPECT_TRUE(contains(script, "\n#SBATCH --job-name=abliterate-x\n"));
  EXPECT_TRUE(contains(script, "\n#SBATCH --nodes=2\n"));
  EXPECT_TRUE(contains(script, "\n#SBATCH --ntasks-per-node=5\n"));  // Note [The coordinator's task slot]
  EXPECT_TRUE(contains(script, "\n#SBATCH --gpus-per-node=4\n"));
  EXPECT_TRUE(contains(script, "\n#SBATCH --signal=B:USR1@90\n"));
  EXPECT_TRUE(contains(script, "\n#SBATCH --requeue\n"));
  EXPECT_TRUE(contains(script, "\n#SBATCH --open-mode=append\n"));
  EXPECT_FALSE(contains(script, "overcommit\n"));
  EXPECT_FALSE(contains(script, "--array"));
  EXPECT_TRUE(contains(script, "\nabliterate='/opt/abliterate/bin/abliterate'\n"));
  EXPECT_TRUE(contains(script, "\ncd '/scratch/runs' || exit 1\n"));
  EXPECT_TRUE(contains(script,
                       "\nsrun --mpi=pmix --kill-on-bad-exit=0 --wait=60 --ntasks=9 \"$abliterate\" run "
                       "'/scratch/jobs/x.yaml' &\n"))
      << script;
  EXPECT_TRUE(contains(script, "trap 'forward_stop USR1' USR1\n"));
  EXPECT_TRUE(contains(script, "trap 'forward_stop TERM' TERM\n"));
  EXPECT_TRUE(contains(script, "kill -s USR1 \"$step_pid\""));
  EXPECT_TRUE(contains(script, "scontrol requeue \"$SLURM_JOB_ID\""));
  EXPECT_FALSE(std::regex_search(script, std::regex("@[A-Z_]+@"))) << "a placeholder is left:\n" << script;
}

TEST(BatchScript, SbatchOptionsComeBeforeTheFirstCommand) {
  // sbatch stops reading #SBATCH lines at the first line that is not a comment.
  BatchRequest request = study_request(1, 1);
  request.resources.time_limit = "02:00:00";
  request.resources.partition = "gpu";
  request.resources.account = "proj1";
  request.resources.qos = "high";
  const std::string script = render_batch_script(request);
  std::istringstream lines(script);
  std::string line;
  bool is_past_header = false;
  int n_sbatch_lines = 0;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] != '#') is_past_header = true;
    if (line.starts_with("#SBATCH")) {
      EXPECT_FALSE(is_past_header) << line;
      ++n_sbatch_lines;
    }
  }
  EXPECT_EQ(n_sbatch_lines, 11);
  for (const char* option : {"--time=02:00:00", "--partition=gpu", "--account=proj1", "--qos=high"}) {
    EXPECT_TRUE(contains(script, std::string("#SBATCH ") + option + "\n")) << option;
  }
}

TEST(BatchScript, CpuWorkersAskForNoGpus) {
  BatchRequest request = study_request(1, 2);
  request.resources.worker_device = WorkerDevice::cpu;
  request.resources.is_overcommitted = true;
  request.resources.signal_lead_s = 40;
  const std::string script = render_batch_script(request);
  EXPECT_FALSE(contains(script, "gpus-per-node"));
  EXPECT_TRUE(contains(script, "\n#SBATCH --ntasks=3\n"));  // Slurm refuses --ntasks-per-node over the CPUs
  EXPECT_FALSE(contains(script, "ntasks-per-node"));
  EXPECT_TRUE(contains(script, "\n#SBATCH --overcommit\n"));
  EXPECT_TRUE(contains(script, " --ntasks=3 --overcommit \"$abliterate\" run "));
  EXPECT_TRUE(contains(script, "\n#SBATCH --signal=B:USR1@40\n"));
}

TEST(BatchScript, ASweepIsAJobArrayWithOneTaskPerEntry) {
  BatchRequest request = study_request(1, 4);
  request.run = SweepRun{"/scratch/sweeps/models.yaml", 5, 2};
  std::string script = render_batch_script(request);
  EXPECT_TRUE(contains(script, "\n#SBATCH --array=0-4%2\n"));
  EXPECT_TRUE(
      contains(script, "\"$abliterate\" sweep '/scratch/sweeps/models.yaml' --entry \"$SLURM_ARRAY_TASK_ID\" &\n"))
      << script;
  request.run = SweepRun{"/scratch/sweeps/models.yaml", 5, 5};
  EXPECT_TRUE(contains(render_batch_script(request), "\n#SBATCH --array=0-4\n"));
  request.run = SweepRun{"/scratch/sweeps/models.yaml", 1, std::nullopt};
  EXPECT_TRUE(contains(render_batch_script(request), "\n#SBATCH --array=0-0\n"));
}

TEST(BatchScript, RefusesBadCountsNamingTheOption) {
  ASSERT_THROWS_WITH(render_batch_script(study_request(0, 4)), InputError, "--nodes: expected 1 or more, got 0");
  ASSERT_THROWS_WITH(render_batch_script(study_request(1, 0)), InputError, "--gpus-per-node: expected 1 or more");
  BatchRequest request = study_request(1, 1);
  request.resources.worker_device = WorkerDevice::cpu;
  request.resources.n_workers_per_node = -1;
  ASSERT_THROWS_WITH(render_batch_script(request), InputError, "--workers-per-node: expected 1 or more, got -1");
  request = study_request(1, 1);
  request.run = SweepRun{"/s.yaml", 3, 0};
  ASSERT_THROWS_WITH(render_batch_script(request), InputError, "--array-parallel: expected 1 or more, got 0");
  request.run = SweepRun{"/s.yaml", 0, std::nullopt};
  ASSERT_THROWS_WITH(render_batch_script(request), InputError, "/s.yaml: the sweep has no entries");
  request = study_request(1, 1);
  request.resources.signal_lead_s = 70000;
  ASSERT_THROWS_WITH(render_batch_script(request), InputError, "must be 1 to 65535 s, got 70000");
}

TEST(BatchScript, RefusesAnSbatchValueThatWouldAddALine) {
  BatchRequest request = study_request(1, 1);
  request.resources.partition = "gpu\n#SBATCH --account=someone-else";
  ASSERT_THROWS_WITH(render_batch_script(request), InputError, "--partition: \"gpu\\n#SBATCH");
  request = study_request(1, 1);
  request.resources.time_limit = "1:00:00 --x";
  ASSERT_THROWS_WITH(render_batch_script(request), InputError, "--time:");
}

TEST(BatchScript, DefaultJobNameKeepsOnlyWhatAnSbatchLineCanHold) {
  EXPECT_EQ(default_job_name("/a b/gemma 3's job.yaml"), "abliterate-gemma_3_s_job");
  EXPECT_EQ(default_job_name("jobs/x.yaml"), "abliterate-x");
}

// The rendered script run by bash with fakes of srun and scontrol that
// record their arguments: what reaches the programs, and the exit-code contract.
class BatchScriptRun : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("abl-batch-script-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "bin");
    // One argument per line: the hostile path below holds no newline.
    write_file(dir_ / "bin" / "srun",
               "#!/bin/bash\nprintf '%s\\n' \"$@\" > \"$FAKE_DIR/srun.args\"\nexit \"$FAKE_SRUN_RC\"\n");
    write_file(dir_ / "bin" / "scontrol", "#!/bin/bash\nprintf '%s\\n' \"$@\" > \"$FAKE_DIR/scontrol.args\"\n");
    fs::permissions(dir_ / "bin" / "srun", fs::perms::owner_all);
    fs::permissions(dir_ / "bin" / "scontrol", fs::perms::owner_all);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A study whose script cd's into the test's folder.
  BatchRequest request_here(int64_t n_nodes, int64_t n_gpus_per_node) {
    BatchRequest request = study_request(n_nodes, n_gpus_per_node);
    request.work_dir = dir_;
    return request;
  }

  // Runs `script` with srun exiting `srun_rc`; returns the script's exit code.
  int run_script(const std::string& script, int srun_rc) {
    write_file(dir_ / "job.sbatch", script);
    const std::string command =
        "cd " + dir_.string() + " && env PATH=" + (dir_ / "bin").string() + ":/usr/bin:/bin FAKE_DIR=" + dir_.string() +
        " FAKE_SRUN_RC=" + std::to_string(srun_rc) + " SLURM_JOB_ID=4242 bash job.sbatch > run.log 2>&1";
    const int status = std::system(command.c_str());
    return WEXITSTATUS(status);
  }

  fs::path dir_;
};

TEST_F(BatchScriptRun, AHostileJobPathReachesAbliterateAsWrittenAndRunsNothing) {
  const fs::path marker = dir_ / "pwned";
  const std::string hostile =
      (dir_ / ("my jobs/it's $(touch " + marker.string() + ") `touch " + marker.string() + "`/x.yaml")).string();
  fs::create_directories(dir_ / "work dir's $(touch pwned)");
  BatchRequest request = study_request(2, 4);
  request.run = StudyRun{hostile};
  request.abliterate_path = dir_ / "bin dir" / "abliterate $(touch pwned)";
  request.work_dir = dir_ / "work dir's $(touch pwned)";
  EXPECT_EQ(run_script(render_batch_script(request), 0), 0) << read_file(dir_ / "run.log");
  const std::string args = read_file(dir_ / "srun.args");
  EXPECT_EQ(args, "--mpi=pmix\n--kill-on-bad-exit=0\n--wait=60\n--ntasks=9\n" + request.abliterate_path.string() +
                      "\nrun\n" + hostile + "\n");
  EXPECT_FALSE(fs::exists(marker));
  EXPECT_FALSE(fs::exists(dir_ / "pwned"));
  EXPECT_FALSE(fs::exists(request.work_dir / "pwned"));
  EXPECT_FALSE(fs::exists(dir_ / "scontrol.args"));
}

TEST_F(BatchScriptRun, ExitCode75RequeuesTheJobAndEndsItCleanly) {
  EXPECT_EQ(run_script(render_batch_script(request_here(1, 1)), 75), 0) << read_file(dir_ / "run.log");
  EXPECT_EQ(read_file(dir_ / "scontrol.args"), "requeue\n4242\n");
  EXPECT_TRUE(contains(read_file(dir_ / "run.log"), "requeueing job 4242"));
}

TEST_F(BatchScriptRun, AnyOtherExitCodeIsPassedThrough) {
  EXPECT_EQ(run_script(render_batch_script(request_here(1, 1)), 3), 3);
  EXPECT_FALSE(fs::exists(dir_ / "scontrol.args"));
  EXPECT_EQ(run_script(render_batch_script(request_here(1, 1)), 1), 1);
}

TEST_F(BatchScriptRun, ASweepTaskRunsItsEntry) {
  BatchRequest request = request_here(1, 2);
  request.run = SweepRun{"/s/sweep.yaml", 3, std::nullopt};
  const std::string script = render_batch_script(request);
  write_file(dir_ / "job.sbatch", script);
  const std::string command = "cd " + dir_.string() + " && env PATH=" + (dir_ / "bin").string() +
                              ":/usr/bin:/bin FAKE_DIR=" + dir_.string() +
                              " FAKE_SRUN_RC=0 SLURM_ARRAY_TASK_ID=2 bash job.sbatch > run.log 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << read_file(dir_ / "run.log");
  EXPECT_TRUE(contains(read_file(dir_ / "srun.args"), "\nsweep\n/s/sweep.yaml\n--entry\n2\n"));
}

}  // namespace
}  // namespace abliterate::slurm
