#include <algorithm>

#include <fmt/format.h>

#include "abliterate/cli/commands.hpp"
#include "abliterate/report/atomic_file.hpp"
#include "abliterate/report/html_report.hpp"
#include "abliterate/report/trials_table_export.hpp"

namespace abliterate::cli {

int report_command(const ReportArgs& args) {
  const report::ReportData data = report::read_report_data(args.store_path, args.study_name);
  report::write_file_atomically(args.out_path, report::render_html_report(data));
  if (args.csv_path) report::write_file_atomically(*args.csv_path, report::trials_csv(data));
  // `replace`: a fail reason with bytes that are not UTF-8 (a model's text) still exports.
  if (args.json_path) {
    report::write_file_atomically(
        *args.json_path,
        report::trials_json(data).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  }
  const auto n_complete = std::count_if(data.trials.begin(), data.trials.end(),
                                        [](const report::TrialRow& row) { return row.is_measured(); });
  fmt::print("Wrote {} (study \"{}\": {} trials, {} COMPLETE, {} on the Pareto front){}\n", args.out_path,
             data.study_name, data.trials.size(), n_complete, data.front_numbers.size(),
             data.is_run_active ? "; the study is running: the report is a snapshot" : "");
  return 0;
}

}  // namespace abliterate::cli
