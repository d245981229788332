// The report's plots (see report_plots.hpp).
#include "abliterate/report/report_plots.hpp"

#include <algorithm>
#include <functional>
#include <optional>

#include <fmt/format.h>

#include "abliterate/report/svg_plot.hpp"

namespace abliterate::report {
namespace {

// Small enough that the 18 parameter plots sit three or four to a row.
constexpr PlotSize kSmallPlot{300, 220};
constexpr PlotSize kHistoryPlot{560, 320};
constexpr PlotSize kParetoPlot{760, 460};

// One objective of a trial row, with the words the plots use for it.
struct Objective {
  std::string name;  // axis label
  std::function<std::optional<double>(const TrialRow&)> value;
};

std::vector<Objective> objectives() {
  return {{"Refusals",
           [](const TrialRow& row) -> std::optional<double> {
             if (!row.refusals) return std::nullopt;
             return static_cast<double>(*row.refusals);
           }},
          {"KL divergence", [](const TrialRow& row) { return row.kl_divergence; }}};
}

const TrialRow* find_row(const ReportData& data, int64_t number) {
  const auto it =
      std::find_if(data.trials.begin(), data.trials.end(), [&](const TrialRow& row) { return row.number == number; });
  return it == data.trials.end() ? nullptr : &*it;
}

}  // namespace

std::string trial_hover_text(const TrialRow& row) {
  std::string text = fmt::format("Trial {} ({})", row.number, to_string(row.state));
  if (row.refusals || row.kl_divergence) {
    text += fmt::format("\nrefusals {}, KL divergence {}", format_refusals(row),
                        row.kl_divergence ? fmt::format("{:.4f}", *row.kl_divergence) : "-");
  }
  if (!row.params) return text;
  const config::AblationParams& p = *row.params;
  text += "\ndirection_index " + (p.direction_index ? fmt::format("{:.2f}", *p.direction_index) : "per layer");
  for (const config::NamedComponent& component : config::kNamedComponents) {
    const config::ComponentParams& kernel = p.*component.params;
    text += fmt::format(
        "\n{}: max_weight {:.2f}, max_weight_position {:.2f}, min_weight {:.2f}, "
        "min_weight_distance {:.2f}",
        component.name, kernel.max_weight, kernel.max_weight_position, kernel.min_weight, kernel.min_weight_distance);
  }
  return text;
}

std::string pareto_plot_svg(const ReportData& data) {
  SvgPlot plot("Pareto plot: refusals against KL divergence", "KL divergence", "Refusals", kParetoPlot);
  plot.set_empty_text("No COMPLETE trials yet");
  plot.include({0, 0});
  std::vector<DataPoint> front;
  for (int64_t number : data.front_numbers) {
    const TrialRow* row = find_row(data, number);
    if (row && row->is_measured()) front.push_back({*row->kl_divergence, static_cast<double>(*row->refusals)});
  }
  // Front points by KL ascending (refusals then descend), for the step line.
  std::sort(front.begin(), front.end(), [](const DataPoint& a, const DataPoint& b) { return a.x < b.x; });
  if (!front.empty()) {
    plot.add_line({step_corners(front), std::string(kFrontLineClass),
                   fmt::format("Pareto front: {} trial{}", front.size(), front.size() == 1 ? "" : "s")});
  }
  for (const DataPoint& point : front) plot.add_marker({point, "front-mark", "", MarkerShape::circle, 7});
  for (const TrialRow& row : data.trials) {
    if (!row.is_measured()) continue;
    plot.add_marker({{*row.kl_divergence, static_cast<double>(*row.refusals)},
                     std::string(kTrialPointClass),
                     trial_hover_text(row)});
  }
  if (data.base_refusals) {
    const std::string n_text = data.n_bad_prompts ? fmt::format("/{}", *data.n_bad_prompts) : "";
    plot.add_marker(
        {{0, static_cast<double>(*data.base_refusals)},
         std::string(kOriginalModelClass),
         fmt::format("Original model\nrefusals {}{}, KL divergence 0 (by definition)", *data.base_refusals, n_text),
         MarkerShape::diamond,
         7});
  }
  return plot.render();
}

std::vector<std::string> history_plot_svgs(const ReportData& data) {
  std::vector<std::string> svgs;
  for (const Objective& objective : objectives()) {
    SvgPlot plot(objective.name + " by trial", "Trial number", objective.name, kHistoryPlot);
    plot.set_empty_text("No COMPLETE trials yet");
    std::vector<DataPoint> best_so_far;
    for (const TrialRow& row : data.trials) {
      const std::optional<double> value = objective.value(row);
      if (!row.is_measured() || !value) continue;
      const double x = static_cast<double>(row.number);
      plot.add_marker({{x, *value}, "history-point", trial_hover_text(row)});
      const double best = best_so_far.empty() ? *value : std::min(best_so_far.back().y, *value);
      best_so_far.push_back({x, best});
    }
    if (!best_so_far.empty()) {
      plot.add_line({step_corners(best_so_far), "best", fmt::format("Best {} so far", objective.name)});
    }
    svgs.push_back(plot.render());
  }
  return svgs;
}

std::vector<std::string> parameter_plot_svgs(const ReportData& data) {
  std::vector<std::string> svgs;
  const std::vector<std::string>& names = parameter_names();
  for (size_t param_idx = 0; param_idx < names.size(); ++param_idx) {
    for (const Objective& objective : objectives()) {
      // The title is the parameter alone: the y axis names the objective, and
      // "name vs objective" does not fit a small plot.
      SvgPlot plot(names[param_idx], names[param_idx], objective.name, kSmallPlot);
      plot.set_empty_text("No COMPLETE trials with this parameter");
      for (const TrialRow& row : data.trials) {
        const std::optional<double> value = objective.value(row);
        if (!row.is_measured() || !row.params || !value) continue;
        const std::optional<double> param = parameter_values(*row.params)[param_idx];
        if (!param) continue;  // direction_index of the "per layer" scope
        plot.add_marker(
            {{*param, *value},
             "param-point",
             fmt::format("Trial {}: {} {:.2f}, {} {}", row.number, names[param_idx], *param, objective.name,
                         objective.name == "Refusals" ? format_refusals(row) : fmt::format("{:.4f}", *value)),
             MarkerShape::circle,
             3});
      }
      svgs.push_back(plot.render());
    }
  }
  return svgs;
}

}  // namespace abliterate::report
