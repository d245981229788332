// The report page (see html_report.hpp).
#include "abliterate/report/html_report.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "abliterate/report/report_plots.hpp"
#include "abliterate/report/svg_plot.hpp"

namespace abliterate::report {
namespace {

// The page's whole style: system fonts only, so nothing is fetched.
constexpr std::string_view kStyleSheet = R"(
body { font-family: sans-serif; margin: 24px; color: #222; background: #fff; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 28px; }
.note { padding: 8px 12px; border-left: 4px solid #d08000; background: #fff6e0; }
.plots { display: flex; flex-wrap: wrap; gap: 8px; }
svg.plot { background: #fcfcfc; border: 1px solid #ddd; }
svg .frame { fill: none; stroke: #888; }
svg .tick { stroke: #888; }
svg .tick-label, svg .axis-label { font-size: 11px; fill: #444; }
svg .plot-title { font-size: 13px; font-weight: bold; fill: #222; }
svg .empty-note { font-size: 13px; fill: #999; }
svg .trial { fill: #2a6fdb; fill-opacity: 0.75; stroke: #fff; stroke-width: 1; }
svg .front-mark { fill: none; stroke: #d62828; stroke-width: 2; }
svg .front { stroke: #d62828; stroke-width: 2; }
svg .original { fill: #2a9d3a; stroke: #114d1c; stroke-width: 1; }
svg .history-point { fill: #2a6fdb; fill-opacity: 0.7; }
svg .best { stroke: #d62828; stroke-width: 2; }
svg .param-point { fill: #6a4fc9; fill-opacity: 0.7; }
table.trials { border-collapse: collapse; font-size: 12px; }
table.trials th, table.trials td { border: 1px solid #ccc; padding: 3px 6px; text-align: right; }
table.trials td.text { text-align: left; }
tr.state-FAIL { background: #fde8e8; } tr.state-RUNNING { background: #fff6e0; }
tr.front-row { font-weight: bold; }
)";

int64_t count_state(const ReportData& data, study::TrialState state) {
  return std::count_if(data.trials.begin(), data.trials.end(), [&](const TrialRow& row) { return row.state == state; });
}

bool is_on_front(const ReportData& data, int64_t number) {
  return std::find(data.front_numbers.begin(), data.front_numbers.end(), number) != data.front_numbers.end();
}

std::string summary_html(const ReportData& data) {
  std::string counts;
  for (study::TrialState state : {study::TrialState::COMPLETE, study::TrialState::FAIL, study::TrialState::PRUNED,
                                  study::TrialState::RUNNING, study::TrialState::WAITING}) {
    const int64_t n = count_state(data, state);
    if (n > 0) counts += fmt::format("{}{} {}", counts.empty() ? "" : ", ", n, to_string(state));
  }
  std::string out =
      fmt::format("<p class=\"summary\">Store <code>{}</code>: {} trial{}{}.", escape_xml(data.store_path),
                  data.trials.size(), data.trials.size() == 1 ? "" : "s", counts.empty() ? "" : " (" + counts + ")");
  if (data.n_trials_budget) {
    out += fmt::format(" Progress: {} of {} trials COMPLETE.", count_state(data, study::TrialState::COMPLETE),
                       *data.n_trials_budget);
  }
  if (data.base_refusals) {
    out += fmt::format(" Original model: {} refusals, KL divergence 0 (by definition).",
                       data.n_bad_prompts ? fmt::format("{}/{}", *data.base_refusals, *data.n_bad_prompts)
                                          : std::to_string(*data.base_refusals));
  }
  return out + "</p>\n";
}

// Why the table may still change: a live run, or RUNNING rows of a dead one.
std::string running_note_html(const ReportData& data) {
  const int64_t n_running = count_state(data, study::TrialState::RUNNING);
  if (data.is_run_active) {
    return fmt::format(
        "<p class=\"note running-note\">This study is running: an <code>abliterate run</code> held the "
        "store when this report was written. The report is a snapshot; {} trial{} {} in progress.</p>\n",
        n_running, n_running == 1 ? "" : "s", n_running == 1 ? "was" : "were");
  }
  if (n_running == 0) return "";
  return fmt::format(
      "<p class=\"note\">No run held the store: its {} RUNNING trial{} {} left from a run that died; "
      "the next <code>abliterate run</code> marks {} FAIL (interrupted) and runs {} again.</p>\n",
      n_running, n_running == 1 ? "" : "s", n_running == 1 ? "is" : "are", n_running == 1 ? "it" : "them",
      n_running == 1 ? "it" : "them");
}

std::string table_row_html(const ReportData& data, const TrialRow& row) {
  std::string out = fmt::format("<tr class=\"state-{}{}\" title=\"{}\"><td>{}</td><td class=\"text\">{}</td>",
                                to_string(row.state), is_on_front(data, row.number) ? " front-row" : "",
                                escape_xml(trial_hover_text(row)), row.number, to_string(row.state));
  out += fmt::format("<td>{}</td><td>{}</td>", format_refusals(row),
                     row.kl_divergence ? fmt::format("{:.4f}", *row.kl_divergence) : "-");
  const size_t n_params = parameter_names().size();
  if (row.params) {
    const std::vector<std::optional<double>> values = parameter_values(*row.params);
    for (const std::optional<double>& value : values) {
      out += value ? fmt::format("<td>{:.2f}</td>", *value) : "<td class=\"text\">per layer</td>";
    }
  } else {
    for (size_t param_idx = 0; param_idx < n_params; ++param_idx) out += "<td>-</td>";
  }
  return out + fmt::format("<td class=\"text\">{}</td></tr>\n", escape_xml(row.fail_reason));
}

std::string trials_table_html(const ReportData& data) {
  if (data.trials.empty()) return "<p>The study has no trials yet.</p>\n";
  std::string out = "<table class=\"trials\">\n<tr><th>#</th><th>state</th><th>refusals</th><th>KL divergence</th>";
  for (const std::string& name : parameter_names()) out += fmt::format("<th>{}</th>", escape_xml(name));
  out += "<th>fail reason</th></tr>\n";
  for (const TrialRow& row : data.trials) out += table_row_html(data, row);
  return out + "</table>\n";
}

std::string front_list_html(const ReportData& data) {
  if (data.front_numbers.empty()) return "<p>No COMPLETE trials yet: no Pareto front.</p>\n";
  std::string out = "<p>Pareto front (fewest refusals first):";
  for (int64_t number : data.front_numbers) {
    const auto row =
        std::find_if(data.trials.begin(), data.trials.end(), [&](const TrialRow& r) { return r.number == number; });
    if (row == data.trials.end()) continue;
    out += fmt::format(" trial {} ({} refusals, KL {:.4f}){}", number, format_refusals(*row),
                       row->kl_divergence.value_or(0), number == data.front_numbers.back() ? "." : ";");
  }
  return out + "</p>\n";
}

}  // namespace

std::string render_html_report(const ReportData& data) {
  std::string out = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<title>abliterate report: {}</title>\n<style>{}</style>\n</head>\n<body>\n",
      escape_xml(data.study_name), kStyleSheet);
  out += fmt::format("<h1>Study \"{}\"</h1>\n", escape_xml(data.study_name));
  out += summary_html(data) + running_note_html(data);
  out +=
      "<h2>Pareto front</h2>\n<p>Each point is a COMPLETE trial (hover for its parameters); the red line is the "
      "Pareto front, the green diamond the original model.</p>\n";
  out += "<div class=\"plots\">\n" + pareto_plot_svg(data) + "</div>\n" + front_list_html(data);
  out += "<h2>Optimization history</h2>\n<div class=\"plots\">\n";
  for (const std::string& svg : history_plot_svgs(data)) out += svg;
  out += "</div>\n<h2>Parameters against objectives</h2>\n<div class=\"plots\">\n";
  for (const std::string& svg : parameter_plot_svgs(data)) out += svg;
  out += "</div>\n<h2>Trials</h2>\n" + trials_table_html(data);
  return out + "</body>\n</html>\n";
}

}  // namespace abliterate::report
