#include "abliterate/report/trials_table_export.hpp"

#include <sstream>

#include <gtest/gtest.h>

#include "report/sample_study.hpp"

namespace abliterate::report {
namespace {

using study::testing::TempDir;
using testing::write_sample_store;

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t end = text.find("\r\n"); end != std::string::npos; end = text.find("\r\n", start)) {
    lines.push_back(text.substr(start, end - start));
    start = end + 2;
  }
  EXPECT_EQ(start, text.size()) << "text after the last line end";
  return lines;
}

TEST(TrialsTableExport, JsonRowsHaveTypedValues) {
  TempDir dir;
  const nlohmann::ordered_json rows = trials_json(read_report_data(write_sample_store(dir), std::nullopt));
  ASSERT_TRUE(rows.is_array());
  ASSERT_EQ(rows.size(), 6u);
  for (const auto& row : rows) {
    std::vector<std::string> keys;
    for (const auto& item : row.items()) keys.push_back(item.key());
    EXPECT_EQ(keys, trials_table_columns());
  }
  const auto& first = rows[0];
  EXPECT_TRUE(first["number"].is_number_integer());
  EXPECT_EQ(first["number"], 0);
  EXPECT_EQ(first["state"], "COMPLETE");
  EXPECT_TRUE(first["refusals"].is_number_integer());
  EXPECT_EQ(first["refusals"], 8);
  EXPECT_EQ(first["n_bad_prompts"], 10);
  EXPECT_TRUE(first["kl_divergence"].is_number_float());
  EXPECT_DOUBLE_EQ(first["kl_divergence"].get<double>(), 0.2);
  EXPECT_DOUBLE_EQ(first["direction_index"].get<double>(), 10.5);
  EXPECT_DOUBLE_EQ(first["attn.o_proj.min_weight"].get<double>(), 0.6);
  EXPECT_DOUBLE_EQ(first["mlp.down_proj.min_weight_distance"].get<double>(), 5.0);
  EXPECT_TRUE(first["fail_reason"].is_null());

  EXPECT_EQ(rows[1]["state"], "FAIL");
  EXPECT_TRUE(rows[1]["refusals"].is_null());
  EXPECT_TRUE(rows[1]["kl_divergence"].is_null());
  EXPECT_EQ(rows[1]["fail_reason"], testing::kFailReason);
  EXPECT_TRUE(rows[4]["direction_index"].is_null());  // "per layer"
  EXPECT_EQ(rows[5]["state"], "RUNNING");
  EXPECT_TRUE(rows[5]["refusals"].is_null());
}

TEST(TrialsTableExport, CsvRowsMatchTheJson) {
  TempDir dir;
  const std::string csv = trials_csv(read_report_data(write_sample_store(dir), std::nullopt));
  const std::vector<std::string> lines = split_lines(csv);
  ASSERT_EQ(lines.size(), 7u) << csv;
  EXPECT_EQ(lines[0],
            "number,state,refusals,n_bad_prompts,kl_divergence,direction_index,attn.o_proj.max_weight,"
            "attn.o_proj.max_weight_position,attn.o_proj.min_weight,attn.o_proj.min_weight_distance,"
            "mlp.down_proj.max_weight,mlp.down_proj.max_weight_position,mlp.down_proj.min_weight,"
            "mlp.down_proj.min_weight_distance,fail_reason");
  EXPECT_EQ(lines[1], "0,COMPLETE,8,10,0.2,10.5,1.2,14,0.6,3,0.9,12,0.225,5,") << csv;
  EXPECT_EQ(lines[2], "1,FAIL,,,,11.5,1.2,14,0.6,3,0.9,12,0.225,5,\"runtime error: <boom> & \"\"quoted\"\", comma\"")
      << csv;
  EXPECT_EQ(lines[5], "4,COMPLETE,6,10,0.7,,1.2,14,0.6,3,0.9,12,0.225,5,") << csv;
  EXPECT_EQ(lines[6], "5,RUNNING,,,,15.5,1.2,14,0.6,3,0.9,12,0.225,5,") << csv;
}

}  // namespace
}  // namespace abliterate::report
