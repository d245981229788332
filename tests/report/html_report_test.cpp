#include "abliterate/report/html_report.hpp"

#include <regex>

#include <gtest/gtest.h>

#include "abliterate/report/report_plots.hpp"
#include "report/sample_study.hpp"

namespace abliterate::report {
namespace {

using study::testing::TempDir;
using testing::count_occurrences;
using testing::write_sample_store;

std::string render_sample(const TempDir& dir, const std::string& study_name = "heretic") {
  return render_html_report(read_report_data(write_sample_store(dir, study_name), std::nullopt));
}

// The `points` attribute of the one polyline of class `css_class`.
std::string polyline_points(const std::string& html, const std::string& css_class) {
  const std::regex pattern("<polyline class=\"" + css_class + "\" fill=\"none\" points=\"([^\"]*)\"");
  std::smatch match;
  if (!std::regex_search(html, match, pattern)) return "";
  return match[1];
}

TEST(HtmlReport, ParetoPlotHasOnePointPerCompleteTrialAndTheFront) {
  TempDir dir;
  const std::string html = render_sample(dir);
  // 4 COMPLETE trials (0, 2, 3, 4); FAIL and RUNNING are not plotted.
  EXPECT_EQ(count_occurrences(html, "class=\"trial\""), 4u);
  EXPECT_EQ(count_occurrences(html, "<circle class=\"trial\""), 4u);
  // The front (3 trials) is one step line of 2·3 − 1 corners.
  EXPECT_EQ(count_occurrences(html, "<polyline class=\"front\""), 1u);
  const std::string front = polyline_points(html, "front");
  EXPECT_EQ(count_occurrences(front, ","), 5u) << front;
  EXPECT_EQ(count_occurrences(html, "<polygon class=\"original\""), 1u);
  EXPECT_NE(html.find("Original model\nrefusals 9/10, KL divergence 0 (by definition)"), std::string::npos);
  // Hover text: number, measurements and parameters.
  EXPECT_NE(html.find("<title>Trial 3 (COMPLETE)\nrefusals 5/10, KL divergence 0.5000\ndirection_index 13.50\n"
                      "attn.o_proj: max_weight 1.20, max_weight_position 14.00, min_weight 0.60, "
                      "min_weight_distance 3.00\nmlp.down_proj: max_weight 0.90"),
            std::string::npos);
  EXPECT_NE(html.find("Trial 4 (COMPLETE)\nrefusals 6/10, KL divergence 0.7000\ndirection_index per layer"),
            std::string::npos);
}

TEST(HtmlReport, HistoryParameterPlotsAndTable) {
  TempDir dir;
  const std::string html = render_sample(dir);
  EXPECT_NE(html.find("Refusals by trial"), std::string::npos);
  EXPECT_NE(html.find("KL divergence by trial"), std::string::npos);
  EXPECT_EQ(count_occurrences(html, "<polyline class=\"best\""), 2u);
  EXPECT_EQ(count_occurrences(html, "<circle class=\"history-point\""), 8u);  // 4 trials, 2 objectives
  // 9 parameters × 2 objectives; direction_index is not plotted for the "per layer" trial.
  EXPECT_EQ(count_occurrences(html, "<svg xmlns"), 1u + 2u + 18u);
  EXPECT_EQ(count_occurrences(html, "<circle class=\"param-point\""), (9u * 4u - 1u) * 2u);
  EXPECT_EQ(count_occurrences(html, "<title>attn.o_proj.max_weight_position</title>"), 2u);
  // The table: one row per trial, with state, R/N, KL, parameters and the escaped fail reason.
  EXPECT_EQ(count_occurrences(html, "<tr class=\"state-"), 6u);
  EXPECT_NE(html.find("<td>0</td><td class=\"text\">COMPLETE</td><td>8/10</td><td>0.2000</td><td>10.50</td>"),
            std::string::npos);
  EXPECT_NE(html.find("<td class=\"text\">FAIL</td><td>-</td><td>-</td>"), std::string::npos);
  EXPECT_NE(html.find("<td class=\"text\">per layer</td>"), std::string::npos);
  EXPECT_NE(html.find("runtime error: &lt;boom&gt; &amp; &quot;quoted&quot;, comma"), std::string::npos);
  EXPECT_EQ(html.find("<boom>"), std::string::npos);
  EXPECT_EQ(count_occurrences(html, " front-row\""), 3u);
  EXPECT_NE(html.find("Progress: 4 of 6 trials COMPLETE."), std::string::npos);
}

TEST(HtmlReport, IsSelfContained) {
  TempDir dir;
  const std::string html = render_sample(dir);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_EQ(html.find("href"), std::string::npos);
  EXPECT_EQ(html.find("url("), std::string::npos);
  EXPECT_EQ(html.find("@import"), std::string::npos);
  // The only address is the SVG namespace, which is a name, not a fetch.
  EXPECT_EQ(count_occurrences(html, "http"), count_occurrences(html, "http://www.w3.org/2000/svg"));
}

TEST(HtmlReport, EscapesTheStudyName) {
  TempDir dir;
  const std::string html = render_sample(dir, "a<b>&\"c\"");
  EXPECT_NE(html.find("<h1>Study \"a&lt;b&gt;&amp;&quot;c&quot;\"</h1>"), std::string::npos);
  EXPECT_NE(html.find("<title>abliterate report: a&lt;b&gt;&amp;&quot;c&quot;</title>"), std::string::npos);
  EXPECT_EQ(html.find("a<b>"), std::string::npos);
}

TEST(HtmlReport, SaysWhetherTheStudyIsRunning) {
  TempDir dir;
  ReportData data = read_report_data(write_sample_store(dir), std::nullopt);
  data.is_run_active = true;
  const std::string running = render_html_report(data);
  EXPECT_NE(running.find("This study is running"), std::string::npos);
  EXPECT_NE(running.find("1 trial was in progress"), std::string::npos);
  data.is_run_active = false;
  const std::string left_over = render_html_report(data);
  EXPECT_EQ(left_over.find("This study is running"), std::string::npos);
  EXPECT_NE(left_over.find("its 1 RUNNING trial is left from a run that died"), std::string::npos);
}

TEST(HtmlReport, AStudyWithoutTrials) {
  ReportData data;
  data.study_name = "new";
  data.store_path = "s.db";
  const std::string html = render_html_report(data);
  EXPECT_EQ(count_occurrences(html, "class=\"trial\""), 0u);
  EXPECT_EQ(html.find("<polyline class=\"front\""), std::string::npos);
  EXPECT_NE(html.find("No COMPLETE trials yet"), std::string::npos);
  EXPECT_NE(html.find("The study has no trials yet."), std::string::npos);
}

}  // namespace
}  // namespace abliterate::report
