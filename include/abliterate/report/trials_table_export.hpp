// The trials table as data (`abliterate report --csv/--json`): one row per
// trial with typed values, the same rows the HTML table shows.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "abliterate/report/report_data.hpp"

namespace abliterate::report {

// The columns in order: number, state, refusals, n_bad_prompts,
// kl_divergence, the parameters (parameter_names()), fail_reason.
std::vector<std::string> trials_table_columns();

// An array with one object per trial, keys in column order: numbers as JSON
// numbers (counts as integers), state and fail_reason as strings, and null
// where a trial has no value (refusals of a FAIL trial, direction_index of
// the "per layer" scope, fail_reason of a trial that did not fail).
nlohmann::ordered_json trials_json(const ReportData& data);

// RFC 4180 CSV of the same rows: a header line of column names, empty fields
// for nulls, numbers in the shortest text that reads back to the same value,
// fields with a comma, quote or line break quoted; lines end in "\r\n".
std::string trials_csv(const ReportData& data);

}  // namespace abliterate::report
