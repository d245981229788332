// SVG charts for the report (see svg_plot.hpp).
#include "abliterate/report/svg_plot.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "abliterate/common/error.hpp"

namespace abliterate::report {
namespace {

// Room around the plotting area for the title, tick labels and axis labels.
struct Margins {
  double left_px, right_px, top_px, bottom_px;
};
constexpr Margins kMargins{64, 16, 30, 46};
constexpr double kTickLengthPx = 5;
// About this many tick intervals per axis: readable on a 300 px wide plot.
constexpr int kTickIntervals = 5;
// The share of a value range added at each end.
constexpr double kRangePadding = 0.04;

// The decimals that tell ticks `step` apart (0.25 → 2, 5 → 0).
int tick_decimals(double step) {
  const int decimals = static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
  return std::clamp(decimals, 0, 12);
}

std::string format_tick(double value, int decimals) {
  if (std::abs(value) < 1e-12) value = 0;  // no "-0.00"
  return fmt::format("{:.{}f}", value, decimals);
}

// Maps data coordinates to pixels inside the plotting area.
struct Frame {
  double x_lo, x_hi, y_lo, y_hi;
  double left_px, right_px, top_px, bottom_px;

  double px(double x) const { return left_px + (x - x_lo) / (x_hi - x_lo) * (right_px - left_px); }
  double py(double y) const { return bottom_px - (y - y_lo) / (y_hi - y_lo) * (bottom_px - top_px); }
};

std::string hover(const std::string& text) {
  return text.empty() ? "" : fmt::format("<title>{}</title>", escape_xml(text));
}

std::string render_marker(const PlotMarker& marker, const Frame& frame) {
  const double cx = frame.px(marker.at.x);
  const double cy = frame.py(marker.at.y);
  const double r = marker.radius_px;
  if (marker.shape == MarkerShape::diamond) {
    return fmt::format(
        "<polygon class=\"{}\" points=\"{:.2f},{:.2f} {:.2f},{:.2f} {:.2f},{:.2f} {:.2f},{:.2f}\">{}</polygon>\n",
        escape_xml(marker.css_class), cx, cy - r, cx + r, cy, cx, cy + r, cx - r, cy, hover(marker.hover_text));
  }
  return fmt::format("<circle class=\"{}\" cx=\"{:.2f}\" cy=\"{:.2f}\" r=\"{:.2f}\">{}</circle>\n",
                     escape_xml(marker.css_class), cx, cy, r, hover(marker.hover_text));
}

std::string render_line(const PlotLine& line, const Frame& frame) {
  std::string points;
  for (const DataPoint& point : line.points) {
    points += fmt::format("{}{:.2f},{:.2f}", points.empty() ? "" : " ", frame.px(point.x), frame.py(point.y));
  }
  return fmt::format("<polyline class=\"{}\" fill=\"none\" points=\"{}\">{}</polyline>\n", escape_xml(line.css_class),
                     points, hover(line.hover_text));
}

// One tick: a short line from `from` to `to` (pixels) and its label at `label_at`.
std::string render_tick(DataPoint from, DataPoint to, DataPoint label_at, const char* text_anchor,
                        const std::string& label) {
  return fmt::format(
      "<line class=\"tick\" x1=\"{:.2f}\" y1=\"{:.2f}\" x2=\"{:.2f}\" y2=\"{:.2f}\"/>"
      "<text class=\"tick-label\" x=\"{:.2f}\" y=\"{:.2f}\" text-anchor=\"{}\">{}</text>\n",
      from.x, from.y, to.x, to.y, label_at.x, label_at.y, text_anchor, label);
}

std::string render_axes(const Frame& frame, const std::vector<double>& x_ticks, const std::vector<double>& y_ticks,
                        const std::string& x_label, const std::string& y_label, const PlotSize& size) {
  std::string out = "<g class=\"axes\">\n";
  out += fmt::format("<rect class=\"frame\" x=\"{:.2f}\" y=\"{:.2f}\" width=\"{:.2f}\" height=\"{:.2f}\"/>\n",
                     frame.left_px, frame.top_px, frame.right_px - frame.left_px, frame.bottom_px - frame.top_px);
  const int x_decimals = tick_decimals(x_ticks[1] - x_ticks[0]);
  for (double tick : x_ticks) {  // below the frame, labels centred under them
    const double x = frame.px(tick);
    out += render_tick({x, frame.bottom_px}, {x, frame.bottom_px + kTickLengthPx}, {x, frame.bottom_px + 18}, "middle",
                       format_tick(tick, x_decimals));
  }
  const int y_decimals = tick_decimals(y_ticks[1] - y_ticks[0]);
  for (double tick : y_ticks) {  // left of the frame, labels right-aligned beside them
    const double y = frame.py(tick);
    out += render_tick({frame.left_px - kTickLengthPx, y}, {frame.left_px, y}, {frame.left_px - 8, y + 4}, "end",
                       format_tick(tick, y_decimals));
  }
  out += fmt::format("<text class=\"axis-label\" x=\"{:.2f}\" y=\"{:.2f}\" text-anchor=\"middle\">{}</text>\n",
                     (frame.left_px + frame.right_px) / 2, size.height_px - 8.0, escape_xml(x_label));
  out += fmt::format(
      "<text class=\"axis-label\" transform=\"translate(14,{:.2f}) rotate(-90)\" "
      "text-anchor=\"middle\">{}</text>\n",
      (frame.top_px + frame.bottom_px) / 2, escape_xml(y_label));
  return out + "</g>\n";
}

}  // namespace

std::string escape_xml(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::vector<double> nice_ticks(double lo, double hi, int n_target) {
  ABL_ASSERT(lo < hi && n_target >= 1 && std::isfinite(lo) && std::isfinite(hi), "nice_ticks({}, {}, {})", lo, hi,
             n_target);
  const double raw_step = (hi - lo) / n_target;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw_step)));
  double step = magnitude * 10;
  for (double factor : {1.0, 2.0, 5.0}) {
    if (magnitude * factor >= raw_step) {
      step = magnitude * factor;
      break;
    }
  }
  const double first = std::floor(lo / step + 1e-9);
  const double last = std::ceil(hi / step - 1e-9);
  std::vector<double> ticks;
  for (double k = first; k <= last; k += 1) ticks.push_back(k * step);
  return ticks;
}

std::vector<DataPoint> step_corners(const std::vector<DataPoint>& points) {
  std::vector<DataPoint> corners;
  for (size_t idx = 0; idx < points.size(); ++idx) {
    if (idx > 0) corners.push_back({points[idx].x, points[idx - 1].y});
    corners.push_back(points[idx]);
  }
  return corners;
}

SvgPlot::SvgPlot(std::string title, std::string x_label, std::string y_label, PlotSize size)
    : title_(std::move(title)), x_label_(std::move(x_label)), y_label_(std::move(y_label)), size_(size) {}

void SvgPlot::add_marker(PlotMarker marker) { markers_.push_back(std::move(marker)); }
void SvgPlot::add_line(PlotLine line) { lines_.push_back(std::move(line)); }
void SvgPlot::include(DataPoint point) { included_.push_back(point); }

SvgPlot::Range SvgPlot::padded_range(const std::vector<double>& values) {
  if (values.empty()) return {};
  const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  // One value: a unit-wide range around it, so the point sits in the middle,
  // except that values >= 0 (counts, KL divergence) get no negative ticks.
  if (*lo == *hi) return {*lo >= 0 ? std::max(0.0, *lo - 0.5) : *lo - 0.5, *hi + 0.5};
  // A margin keeps markers off the frame, except that a range of values >= 0
  // (counts, KL divergence) keeps its axis starting at 0 rather than below.
  const double pad = kRangePadding * (*hi - *lo);
  return {*lo >= 0 ? std::max(0.0, *lo - pad) : *lo - pad, *hi + pad};
}

SvgPlot::Range SvgPlot::range_of(double DataPoint::*coordinate) const {
  std::vector<double> values;
  for (const PlotMarker& marker : markers_) values.push_back(marker.at.*coordinate);
  for (const PlotLine& line : lines_) {
    for (const DataPoint& point : line.points) values.push_back(point.*coordinate);
  }
  for (const DataPoint& point : included_) values.push_back(point.*coordinate);
  return padded_range(values);
}

std::string SvgPlot::render() const {
  const Range xr = range_of(&DataPoint::x);
  const Range yr = range_of(&DataPoint::y);
  const std::vector<double> x_ticks = nice_ticks(xr.lo, xr.hi, kTickIntervals);
  const std::vector<double> y_ticks = nice_ticks(yr.lo, yr.hi, kTickIntervals);
  const Frame frame{x_ticks.front(),  x_ticks.back(),
                    y_ticks.front(),  y_ticks.back(),
                    kMargins.left_px, size_.width_px - kMargins.right_px,
                    kMargins.top_px,  size_.height_px - kMargins.bottom_px};

  std::string out = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot\" width=\"{0}\" height=\"{1}\" "
      "viewBox=\"0 0 {0} {1}\" role=\"img\">\n<title>{2}</title>\n",
      size_.width_px, size_.height_px, escape_xml(title_));
  out += fmt::format("<text class=\"plot-title\" x=\"{:.2f}\" y=\"18\" text-anchor=\"middle\">{}</text>\n",
                     size_.width_px / 2.0, escape_xml(title_));
  out += render_axes(frame, x_ticks, y_ticks, x_label_, y_label_, size_);
  if (markers_.empty() && lines_.empty()) {
    out += fmt::format("<text class=\"empty-note\" x=\"{:.2f}\" y=\"{:.2f}\" text-anchor=\"middle\">{}</text>\n",
                       (frame.left_px + frame.right_px) / 2, (frame.top_px + frame.bottom_px) / 2,
                       escape_xml(empty_text_));
  }
  // Lines first, so that the markers (and their hover text) lie on top.
  for (const PlotLine& line : lines_) out += render_line(line, frame);
  for (const PlotMarker& marker : markers_) out += render_marker(marker, frame);
  return out + "</svg>\n";
}

}  // namespace abliterate::report
