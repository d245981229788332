// Module report: the study report: typed trial rows read from a store, SVG plots, the self-contained HTML page,
// the trials table as CSV and JSON.
// Must not know: torch, models or MPI, nor how trials are run: it reads a store and never writes one.
//
// `abliterate report STORE --out report.html`: one HTML file that works
// offline. Its plots are inline SVG, its style an inline sheet, its hover
// text SVG <title> elements; it fetches nothing and runs no script.
#pragma once

#include <string>

#include "abliterate/report/report_data.hpp"

namespace abliterate::report {

// The page: the study's name, store and trial counts; a note when the study
// is still running (or has RUNNING trials left by a run that died); the
// Pareto plot; the optimization history; the parameter-vs-objective plots;
// and the trials table (number, state, refusals R/N, KL, parameters, fail
// reason). Deterministic: the same data gives the same bytes.
std::string render_html_report(const ReportData& data);

}  // namespace abliterate::report
