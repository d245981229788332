// The report's data: one typed row per trial of a study, read once from the
// store, and the study-level facts the page shows. Everything the HTML page,
// the CSV and the JSON export show comes from here, so the three agree.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "abliterate/config/ablation_params.hpp"
#include "abliterate/study/sqlite_store.hpp"
#include "abliterate/study/trial.hpp"

namespace abliterate::report {

// One trial as the report shows it. The measured values are the raw user
// attrs the trial loop writes when a trial completes (attribute_names.hpp),
// absent for trials that never completed.
struct TrialRow {
  int64_t number = 0;  // the stored, 0-based trial number
  study::TrialState state = study::TrialState::RUNNING;
  std::optional<int64_t> refusals;       // user attr `refusals`
  std::optional<int64_t> n_bad_prompts;  // user attr `n_bad_prompts` (N of "R/N")
  std::optional<double> kl_divergence;   // user attr `kl_divergence`
  // Decoded from the user attrs `direction_index` and `parameters`; nullopt
  // when the trial has none (a store not written by Heretic or us).
  std::optional<config::AblationParams> params;
  std::string fail_reason;  // user attr `fail_reason`; empty when none

  // A point of the Pareto plot: COMPLETE with both measurements.
  bool is_measured() const { return state == study::TrialState::COMPLETE && refusals && kl_divergence; }
};

// "R/N" when N is stored, "R" when not, "-" without refusals.
std::string format_refusals(const TrialRow& row);

struct ReportData {
  std::string study_name;
  std::string store_path;
  std::vector<TrialRow> trials;  // by number
  // The Pareto front (study::pareto_front), by refusals ascending.
  std::vector<int64_t> front_numbers;
  // The unablated model: R0 and N, from the first trial that stores them (or
  // the study user attrs); nullopt when no trial completed.
  std::optional<int64_t> base_refusals;
  std::optional<int64_t> n_bad_prompts;
  std::optional<int64_t> n_trials_budget;  // the stored settings' n_trials
  // An `abliterate run` held the store when it was read: the study is still
  // running and the report is a snapshot.
  bool is_run_active = false;
};

// The study to report on: `requested` when given, else the store's only one.
// Throws InputError naming the store when it holds no study, several (and
// none was requested), or none named `requested` (listing those it holds).
std::string choose_study(const study::SqliteStore& store, const std::optional<std::string>& requested);

// Reads every trial of `study_name`. Throws InputError when the study does not
// exist, FormatError naming the trial when stored attributes are malformed.
ReportData load_report_data(const study::SqliteStore& store, const std::string& study_name, bool is_run_active);

// The whole read of `abliterate report`: probes the run lock (a running study
// can be reported on; is_run_active says so), opens the store read-only,
// chooses the study as choose_study does and loads it. Throws InputError
// naming the file when it does not exist, and what the calls above throw.
ReportData read_report_data(const std::filesystem::path& store_path, const std::optional<std::string>& requested_study);

// The parameter columns of the table and the scatter plots: direction_index,
// then per component (config::kNamedComponents) max_weight,
// max_weight_position, min_weight (absolute), min_weight_distance, each named
// as Heretic names them ("attn.o_proj.max_weight").
const std::vector<std::string>& parameter_names();
// `params` in parameter_names() order; direction_index is nullopt for the
// "per layer" scope.
std::vector<std::optional<double>> parameter_values(const config::AblationParams& params);

}  // namespace abliterate::report
