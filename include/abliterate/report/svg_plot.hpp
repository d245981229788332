// A small SVG chart: markers and polylines in data coordinates, linear axes
// with ticks at round numbers, a title and axis labels. Each marker is one SVG
// element with its own CSS class and a <title> child, which browsers show as
// hover text, so the report needs no script. The output is a standalone <svg>
// element to inline in an HTML page.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace abliterate::report {

// `text` with &, <, >, " and ' replaced by entities: safe inside XML (and
// HTML) text and attribute values.
std::string escape_xml(std::string_view text);

// Tick positions at 1, 2 or 5 times a power of ten that cover [lo, hi] with
// about `n_target` intervals; the first tick is <= lo and the last >= hi.
// Requires lo < hi and n_target >= 1.
std::vector<double> nice_ticks(double lo, double hi, int n_target);

struct DataPoint {
  double x = 0;
  double y = 0;
};

// The corners of a step line through `points` (taken in order): from each
// point horizontally to the next one's x, then vertically to its y. This is
// how a front of minimized objectives is drawn: the region it dominates lies
// above and right of the line.
std::vector<DataPoint> step_corners(const std::vector<DataPoint>& points);

enum class MarkerShape { circle, diamond };

struct PlotMarker {
  DataPoint at;
  std::string css_class;   // the element's class attribute
  std::string hover_text;  // the <title> child; none when empty
  MarkerShape shape = MarkerShape::circle;
  double radius_px = 4;
};

struct PlotLine {
  std::vector<DataPoint> points;  // drawn in order
  std::string css_class;
  std::string hover_text;
};

struct PlotSize {
  int width_px = 640;
  int height_px = 400;
};

// Collects markers and lines, then renders them on axes whose ranges cover
// everything added (and any point passed to include). Not thread-safe.
class SvgPlot {
 public:
  SvgPlot(std::string title, std::string x_label, std::string y_label, PlotSize size = {});

  void add_marker(PlotMarker marker);
  void add_line(PlotLine line);
  // Widens the axis ranges to cover `point` without drawing anything (a plot
  // of KL divergence starts at 0, the original model).
  void include(DataPoint point);
  // Shown in the middle of a plot that has nothing to draw.
  void set_empty_text(std::string text) { empty_text_ = std::move(text); }

  std::string render() const;

 private:
  struct Range {
    double lo = 0;
    double hi = 1;
  };
  static Range padded_range(const std::vector<double>& values);
  // The padded range of one coordinate (&DataPoint::x or ::y) over everything drawn.
  Range range_of(double DataPoint::*coordinate) const;

  std::string title_;
  std::string x_label_;
  std::string y_label_;
  PlotSize size_;
  std::vector<PlotMarker> markers_;
  std::vector<PlotLine> lines_;
  std::vector<DataPoint> included_;
  std::string empty_text_ = "no data";
};

}  // namespace abliterate::report
