#include "abliterate/report/report_data.hpp"

#include <gtest/gtest.h>

#include "abliterate/common/error.hpp"
#include "abliterate/study/store_run_lock.hpp"
#include "report/sample_study.hpp"
#include "support/throws_with.hpp"

namespace abliterate::report {
namespace {

using study::TrialState;
using study::testing::TempDir;
using testing::write_sample_store;

TEST(ReportData, ReadsTypedRowsFromAStore) {
  TempDir dir;
  const std::filesystem::path path = write_sample_store(dir);
  const ReportData data = read_report_data(path, std::nullopt);
  EXPECT_EQ(data.study_name, "heretic");
  EXPECT_EQ(data.store_path, path.string());
  EXPECT_FALSE(data.is_run_active);
  ASSERT_EQ(data.trials.size(), 6u);
  const std::vector<TrialState> states = {TrialState::COMPLETE, TrialState::FAIL,     TrialState::COMPLETE,
                                          TrialState::COMPLETE, TrialState::COMPLETE, TrialState::RUNNING};
  for (size_t idx = 0; idx < states.size(); ++idx) {
    EXPECT_EQ(data.trials[idx].number, static_cast<int64_t>(idx));
    EXPECT_EQ(data.trials[idx].state, states[idx]) << idx;
    EXPECT_TRUE(data.trials[idx].params.has_value()) << idx;
  }
  EXPECT_EQ(data.trials[0].refusals, 8);
  EXPECT_EQ(data.trials[0].n_bad_prompts, testing::kBadPrompts);
  EXPECT_DOUBLE_EQ(data.trials[0].kl_divergence.value(), 0.2);
  EXPECT_DOUBLE_EQ(data.trials[0].params->direction_index.value(), 10.5);
  EXPECT_DOUBLE_EQ(data.trials[0].params->attn_o_proj.max_weight, 1.2);
  EXPECT_DOUBLE_EQ(data.trials[0].params->attn_o_proj.min_weight, 0.6);  // absolute: 0.5 of 1.2
  EXPECT_FALSE(data.trials[4].params->direction_index.has_value());      // "per layer"
  EXPECT_FALSE(data.trials[1].refusals.has_value());
  EXPECT_EQ(data.trials[1].fail_reason, testing::kFailReason);
  EXPECT_TRUE(data.trials[5].fail_reason.empty());
  EXPECT_EQ(data.front_numbers, (std::vector<int64_t>{2, 3, 0}));
  EXPECT_EQ(data.base_refusals, testing::kBaseRefusals);
  EXPECT_EQ(data.n_bad_prompts, testing::kBadPrompts);
  EXPECT_EQ(data.n_trials_budget, 6);
  EXPECT_EQ(format_refusals(data.trials[2]), "3/10");
  EXPECT_EQ(format_refusals(data.trials[1]), "-");
}

TEST(ReportData, ParameterColumnsFollowHereticsNames) {
  EXPECT_EQ(parameter_names(),
            (std::vector<std::string>{"direction_index", "attn.o_proj.max_weight", "attn.o_proj.max_weight_position",
                                      "attn.o_proj.min_weight", "attn.o_proj.min_weight_distance",
                                      "mlp.down_proj.max_weight", "mlp.down_proj.max_weight_position",
                                      "mlp.down_proj.min_weight", "mlp.down_proj.min_weight_distance"}));
  config::AblationParams params;
  params.direction_index = std::nullopt;
  params.attn_o_proj = {1, 2, 3, 4};
  params.mlp_down_proj = {5, 6, 7, 8};
  const std::vector<std::optional<double>> values = parameter_values(params);
  ASSERT_EQ(values.size(), 9u);
  EXPECT_FALSE(values[0].has_value());
  for (size_t idx = 1; idx < values.size(); ++idx) EXPECT_EQ(values[idx], static_cast<double>(idx));
}

TEST(ReportData, SaysWhenARunHoldsTheStore) {
  TempDir dir;
  const std::filesystem::path path = write_sample_store(dir);
  {
    const study::StoreRunLock lock(path);
    EXPECT_TRUE(read_report_data(path, std::nullopt).is_run_active);
  }
  EXPECT_FALSE(read_report_data(path, std::nullopt).is_run_active);
}

TEST(ReportData, BadInputNamesTheFile) {
  TempDir dir;
  const std::filesystem::path missing = dir / "missing.db";
  ASSERT_THROWS_WITH(read_report_data(missing, std::nullopt), InputError, missing.string() + ": no such store");
  EXPECT_FALSE(std::filesystem::exists(missing));

  const std::filesystem::path empty = dir / "empty.db";
  study::SqliteStore::open(empty);  // Optuna's schema, no study
  ASSERT_THROWS_WITH(read_report_data(empty, std::nullopt), InputError, empty.string() + ": the store holds no study");

  const std::filesystem::path path = write_sample_store(dir);
  ASSERT_THROWS_WITH(read_report_data(path, std::string("other")), InputError,
                     path.string() + ": no study named \"other\" (the store holds: heretic)");
  {
    auto store = study::SqliteStore::open(path);
    store->create_study("second", {study::Direction::MINIMIZE}, nlohmann::json::object());
  }
  ASSERT_THROWS_WITH(read_report_data(path, std::nullopt), InputError,
                     path.string() + ": the store holds 2 studies (heretic, second); choose one with --study");
  EXPECT_EQ(read_report_data(path, std::string("second")).study_name, "second");
}

}  // namespace
}  // namespace abliterate::report
