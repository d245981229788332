#include "abliterate/report/svg_plot.hpp"

#include <gtest/gtest.h>

#include "report/sample_study.hpp"

namespace abliterate::report {
namespace {

using testing::count_occurrences;

TEST(SvgPlot, EscapesTextForXml) {
  EXPECT_EQ(escape_xml("a<b>&\"c\"'d'"), "a&lt;b&gt;&amp;&quot;c&quot;&#39;d&#39;");
  EXPECT_EQ(escape_xml("plain"), "plain");
}

TEST(SvgPlot, TicksAreRoundNumbersCoveringTheRange) {
  const std::vector<double> ticks = nice_ticks(0, 0.93, 5);
  ASSERT_EQ(ticks.size(), 6u);
  for (size_t idx = 0; idx < ticks.size(); ++idx) EXPECT_NEAR(ticks[idx], 0.2 * static_cast<double>(idx), 1e-12);
  const std::vector<double> counts = nice_ticks(3, 48, 5);
  EXPECT_LE(counts.front(), 3);
  EXPECT_GE(counts.back(), 48);
  EXPECT_NEAR(counts[1] - counts[0], 10, 1e-12);
}

TEST(SvgPlot, StepCornersHoldEachValueUntilTheNextX) {
  const std::vector<DataPoint> corners = step_corners({{0.2, 8}, {0.5, 5}, {0.9, 3}});
  const std::vector<std::pair<double, double>> expected = {{0.2, 8}, {0.5, 8}, {0.5, 5}, {0.9, 5}, {0.9, 3}};
  ASSERT_EQ(corners.size(), expected.size());
  for (size_t idx = 0; idx < corners.size(); ++idx) {
    EXPECT_EQ(corners[idx].x, expected[idx].first) << idx;
    EXPECT_EQ(corners[idx].y, expected[idx].second) << idx;
  }
  EXPECT_TRUE(step_corners({}).empty());
}

TEST(SvgPlot, RendersOneElementPerMarkerWithEscapedHoverText) {
  SvgPlot plot("A & B", "x <axis>", "y", {300, 200});
  plot.add_marker({{0, 0}, "dot", "first <one>"});
  plot.add_marker({{1, 2}, "dot", "second"});
  plot.add_marker({{0.5, 1}, "star", "", MarkerShape::diamond});
  plot.add_line({{{0, 0}, {1, 2}}, "link", "a line"});
  const std::string svg = plot.render();
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u) << svg;
  EXPECT_EQ(count_occurrences(svg, "<circle class=\"dot\""), 2u) << svg;
  EXPECT_EQ(count_occurrences(svg, "<polygon class=\"star\""), 1u) << svg;
  EXPECT_EQ(count_occurrences(svg, "<polyline class=\"link\""), 1u) << svg;
  EXPECT_NE(svg.find("<title>first &lt;one&gt;</title>"), std::string::npos) << svg;
  EXPECT_NE(svg.find("A &amp; B"), std::string::npos) << svg;
  EXPECT_NE(svg.find("x &lt;axis&gt;"), std::string::npos) << svg;
  EXPECT_EQ(svg.find("<one>"), std::string::npos) << svg;
  EXPECT_EQ(svg.find("no data"), std::string::npos) << svg;
  // The markers lie inside the 300x200 canvas.
  EXPECT_NE(svg.find("cx=\"64.00\""), std::string::npos) << svg;  // x = 0 at the left margin
  // x = 1: the range 0..1, padded to 1.04, gets ticks 0, 0.5, 1, 1.5 (220 px wide).
  EXPECT_NE(svg.find("cx=\"210.67\""), std::string::npos) << svg;
}

TEST(SvgPlot, AnEmptyPlotSaysSo) {
  SvgPlot plot("empty", "x", "y");
  plot.set_empty_text("No COMPLETE trials yet");
  const std::string svg = plot.render();
  EXPECT_NE(svg.find("No COMPLETE trials yet"), std::string::npos) << svg;
  EXPECT_EQ(svg.find("<circle"), std::string::npos) << svg;
}

TEST(SvgPlot, OneValueGetsARangeAroundIt) {
  SvgPlot plot("one", "x", "y", {300, 200});
  plot.add_marker({{3, 7}, "dot", ""});
  const std::string svg = plot.render();
  EXPECT_EQ(count_occurrences(svg, "<circle class=\"dot\""), 1u);
  EXPECT_EQ(svg.find("nan"), std::string::npos) << svg;
  EXPECT_EQ(svg.find("inf"), std::string::npos) << svg;
}

TEST(SvgPlot, ValuesAtOrAboveZeroGetNoNegativeTicks) {
  // A study whose trials all refuse nothing: the refusal axis starts at 0.
  SvgPlot plot("zeros", "x", "y", {300, 200});
  plot.add_marker({{0.5, 0}, "dot", ""});
  plot.add_marker({{0.7, 0}, "dot", ""});
  const std::string svg = plot.render();
  EXPECT_EQ(svg.find(">-"), std::string::npos) << svg;
  EXPECT_NE(svg.find("text-anchor=\"end\">0.0</text>"), std::string::npos) << svg;
}

}  // namespace
}  // namespace abliterate::report
