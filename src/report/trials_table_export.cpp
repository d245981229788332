// The trials table as CSV and JSON (see trials_table_export.hpp). The CSV is
// made from the JSON rows, so the two cannot disagree.
#include "abliterate/report/trials_table_export.hpp"

#include <fmt/format.h>

namespace abliterate::report {
namespace {

using nlohmann::ordered_json;

template <typename T>
ordered_json or_null(const std::optional<T>& value) {
  return value ? ordered_json(*value) : ordered_json(nullptr);
}

std::string csv_field(const ordered_json& value) {
  if (value.is_null()) return "";
  // fmt's "{}" of a double is the shortest text that reads back exactly.
  if (value.is_number_float()) return fmt::format("{}", value.get<double>());
  if (value.is_number()) return value.dump();
  const std::string text = value.is_string() ? value.get<std::string>() : value.dump();
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

}  // namespace

std::vector<std::string> trials_table_columns() {
  std::vector<std::string> columns = {"number", "state", "refusals", "n_bad_prompts", "kl_divergence"};
  for (const std::string& name : parameter_names()) columns.push_back(name);
  columns.push_back("fail_reason");
  return columns;
}

ordered_json trials_json(const ReportData& data) {
  ordered_json rows = ordered_json::array();
  const std::vector<std::string>& names = parameter_names();
  for (const TrialRow& row : data.trials) {
    ordered_json object = {{"number", row.number},
                           {"state", to_string(row.state)},
                           {"refusals", or_null(row.refusals)},
                           {"n_bad_prompts", or_null(row.n_bad_prompts)},
                           {"kl_divergence", or_null(row.kl_divergence)}};
    const std::vector<std::optional<double>> values =
        row.params ? parameter_values(*row.params) : std::vector<std::optional<double>>(names.size());
    for (size_t param_idx = 0; param_idx < names.size(); ++param_idx)
      object[names[param_idx]] = or_null(values[param_idx]);
    object["fail_reason"] = row.fail_reason.empty() ? ordered_json(nullptr) : ordered_json(row.fail_reason);
    rows.push_back(std::move(object));
  }
  return rows;
}

std::string trials_csv(const ReportData& data) {
  const std::vector<std::string> columns = trials_table_columns();
  std::string out;
  for (size_t col = 0; col < columns.size(); ++col) out += (col ? "," : "") + csv_field(columns[col]);
  out += "\r\n";
  for (const ordered_json& row : trials_json(data)) {
    for (size_t col = 0; col < columns.size(); ++col) out += (col ? "," : "") + csv_field(row.at(columns[col]));
    out += "\r\n";
  }
  return out;
}

}  // namespace abliterate::report
