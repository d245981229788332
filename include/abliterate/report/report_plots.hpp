// The report's plots, each an inline <svg> built with SvgPlot from the
// trial rows: the Pareto plot, the optimization history, and one small
// scatter plot per parameter and objective.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "abliterate/report/report_data.hpp"

namespace abliterate::report {

// The CSS classes the plots give their elements, which the page's style sheet
// and the tests (tests/report, tests/integration/report.sh) rely on.
// One element per measured COMPLETE trial on the Pareto plot.
inline constexpr std::string_view kTrialPointClass = "trial";
// The Pareto front's step line.
inline constexpr std::string_view kFrontLineClass = "front";
// The unablated model (KL 0, R0 refusals).
inline constexpr std::string_view kOriginalModelClass = "original";

// Hover text of a trial: its number, refusals and KL, and its parameters
// (direction_index, then per component the four kernel values).
std::string trial_hover_text(const TrialRow& row);

// Refusals (y) against KL divergence (x): every measured COMPLETE trial a
// point, the Pareto front a step line, the original model a diamond at
// (0, R0) when R0 is stored.
std::string pareto_plot_svg(const ReportData& data);

// Refusals, then KL divergence, by trial number: each measured trial a point
// and the best value so far a step line.
std::vector<std::string> history_plot_svgs(const ReportData& data);

// For each parameter of parameter_names(), two small plots: the parameter
// against refusals, then against KL divergence.
std::vector<std::string> parameter_plot_svgs(const ReportData& data);

}  // namespace abliterate::report
