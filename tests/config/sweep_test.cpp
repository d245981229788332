// load_sweep: entries named and placed in their own folders, models x
// settings in file order, paths relative to the sweep file, and bad sweeps
// refused naming the file and key.
#include "abliterate/config/sweep.hpp"

#include <atomic>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "abliterate/common/error.hpp"
#include "support/throws_with.hpp"

namespace abliterate::config {
namespace {

namespace fs = std::filesystem;

class SweepTest : public ::testing::Test {
 protected:
  SweepTest() {
    static std::atomic<int> counter{0};
    dir_ = fs::temp_directory_path() / fmt::format("abl_sweep_test_{}_{}", ::getpid(), counter++);
    fs::create_directories(dir_ / "jobs");
    write("jobs/base.yaml", "model: ignored\nn_trials: 9\nstudy_name: s\nstore: elsewhere.db\n");
  }
  ~SweepTest() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path write(const std::string& name, const std::string& text) const {
    std::ofstream(dir_ / name, std::ios::binary) << text;
    return dir_ / name;
  }
  fs::path dir_;
};

TEST_F(SweepTest, ModelsTimesSettingsInFileOrderEachInItsOwnFolder) {
  const fs::path path = write("grid.yaml",
                              "base: jobs/base.yaml\n"
                              "models:\n"
                              "  - models/a.gguf\n"
                              "  - {name: bee, model: /abs/b, adapter: lora}\n"
                              "settings:\n"
                              "  - {name: few, set: {n_trials: 2}}\n"
                              "  - {name: scaled, set: {kl_divergence_scale: 2.5}}\n");
  const Sweep sweep = load_sweep(path);
  EXPECT_EQ(sweep.out_dir, dir_ / "grid");
  ASSERT_EQ(sweep.entries.size(), 4u);
  const std::vector<std::string> names = {"a-few", "a-scaled", "bee-few", "bee-scaled"};
  for (size_t idx = 0; idx < 4; ++idx) {
    const SweepEntry& entry = sweep.entries[idx];
    EXPECT_EQ(entry.name, names[idx]);
    EXPECT_EQ(entry.job.store, dir_ / "grid" / names[idx] / "study.db");
    EXPECT_EQ(entry.job.cache, dir_ / "grid" / names[idx] / "cache.h5");
    EXPECT_EQ(entry.job.study_name, "s");  // the base job's keys stay
  }
  EXPECT_EQ(sweep.entries[0].job.model, (dir_ / "models/a.gguf").string());
  EXPECT_FALSE(sweep.entries[0].job.adapter.has_value());
  EXPECT_EQ(sweep.entries[0].job.n_trials, 2);
  EXPECT_EQ(sweep.entries[1].job.n_trials, 9);
  EXPECT_DOUBLE_EQ(sweep.entries[1].job.kl_divergence_scale, 2.5);
  EXPECT_EQ(sweep.entries[2].job.model, "/abs/b");
  EXPECT_EQ(sweep.entries[2].job.adapter, (dir_ / "lora").string());
}

TEST_F(SweepTest, OutDirIsRelativeToTheSweepFile) {
  const Sweep sweep = load_sweep(write("s.yaml", "base: jobs/base.yaml\nout_dir: runs/x\nmodels: [m]\n"));
  EXPECT_EQ(sweep.out_dir, dir_ / "runs/x");
  ASSERT_EQ(sweep.entries.size(), 1u);
  EXPECT_EQ(sweep.entries[0].name, "m");
}

TEST_F(SweepTest, BadSweepsNameTheFileAndKey) {
  const auto refused = [&](const std::string& text, const std::string& message) {
    const fs::path path = write("bad.yaml", text);
    ASSERT_THROWS_WITH(load_sweep(path), InputError, message);
  };
  refused("base: jobs/base.yaml\n", "bad.yaml: missing key \"models\"");
  refused("models: [m]\n", "bad.yaml: missing key \"base\"");
  refused("base: jobs/base.yaml\nmodels: []\n", "models: expected a non-empty list");
  refused("base: jobs/base.yaml\nmodel: [m]\n", "unknown key \"model\" (expected one of: base, out_dir, models, settings)");
  refused("base: jobs/nope.yaml\nmodels: [m]\n", "nope.yaml: no such job file");
  refused("base: jobs/base.yaml\nmodels: [a/m, b/m]\n", "two entries are named \"m\"");
  refused("base: jobs/base.yaml\nmodels: [{name: ../up, model: m}]\n", "models[0]: name \"../up\" is not usable");
  refused("base: jobs/base.yaml\nmodels: [m]\nsettings: [{name: x, set: {store: a.db}}]\n",
          "settings[0].set: store is set per entry by the sweep");
  refused("base: jobs/base.yaml\nmodels: [m]\nsettings: [{name: x, set: {n_trials: -1}}]\n", "(entry m-x)");
}

}  // namespace
}  // namespace abliterate::config
