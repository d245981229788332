// The keys of the study and trial attributes in the store (Optuna's
// *_user_attributes and *_system_attributes tables), written down once here so
// that writers, readers and `abliterate status` agree on every name (the
// llama-arch.h name-table pattern). The spellings are Heretic's and Optuna's
// own (method spec §7.3–7.4, spec/optuna-compat.md §3.5): optuna.load_study,
// optuna-dashboard and Heretic's tools read the same keys, so none may change.
// Parameter names of the search space ("direction_index" is also one) are not
// attributes; they live in search_space.cpp.
#pragma once

#include <string_view>

namespace abliterate::study {

// ---- Trial user attrs: Heretic's (method spec §7.3) ----

// Heretic's 1-based run counter of the trial; written by the trial loop
// (src/runner/trial_loop.cpp) when it dispatches the trial, read back by it for
// its progress lines.
inline constexpr std::string_view kIndexAttr = "index";
// The trial's direction index (number, or null for the "per layer" scope);
// written by ablation_user_attrs, read by ablation_params_from_user_attrs.
inline constexpr std::string_view kDirectionIndexAttr = "direction_index";
// {component: {max_weight, max_weight_position, min_weight (absolute),
// min_weight_distance}}; same writer and reader as kDirectionIndexAttr.
inline constexpr std::string_view kParametersAttr = "parameters";
// The trial's raw KL divergence; written by the trial loop when the trial
// completes, read by pareto_front and the status report.
inline constexpr std::string_view kKlDivergenceAttr = "kl_divergence";
// The trial's raw refusal count; same writer and readers as kKlDivergenceAttr.
inline constexpr std::string_view kRefusalsAttr = "refusals";
// The unablated model's refusal count R0 (Heretic v1.3.0); written by the
// trial loop with the results, read by no code of ours.
inline constexpr std::string_view kBaseRefusalsAttr = "base_refusals";
// The number of bad evaluation prompts N (Heretic v1.3.0); written by the
// trial loop with the results, read by the status report (which also looks
// for it among the study user attrs) to print "R/N".
inline constexpr std::string_view kNBadPromptsAttr = "n_bad_prompts";

// ---- Trial user attrs: ours ----

// Why a trial failed (DESIGN.md §5); written by SqliteStore::fail_trial and
// fail_running_trials, read by the coordinator (to re-run "interrupted"
// trials) and the status report.
inline constexpr std::string_view kFailReasonAttr = "fail_reason";

// The fail reasons of trials that did not fail by themselves, and whose
// parameters the next run therefore runs again first: the run died or was
// stopped with the trial in flight, or its worker went silent (issue 12).
inline constexpr std::string_view kInterruptedReason = "interrupted";
inline constexpr std::string_view kWorkerTimeoutReason = "worker timeout";

// ---- Trial system attrs: Optuna's (spec/optuna-compat.md §3.5, §4.3) ----

// The first failed number of a re-run trial (RetryFailedTrialCallback);
// written and read by the coordinator when it re-enqueues interrupted trials.
inline constexpr std::string_view kFailedTrialAttr = "failed_trial";
// The numbers of all earlier runs of a re-run trial; same writer and reader.
inline constexpr std::string_view kRetryHistoryAttr = "retry_history";
// The parameters of an enqueued trial (enqueue_trial); written and read by
// the coordinator for the job's enqueue_trials.
inline constexpr std::string_view kFixedParamsAttr = "fixed_params";
// Constraint values of a trial: the old list under kConstraintsAttr, the new
// one float per kConstraintsAttrPrefix + name. Written by Optuna, never by us;
// read by tpe_history for the infeasibility score.
inline constexpr std::string_view kConstraintsAttr = "constraints";
inline constexpr std::string_view kConstraintsAttrPrefix = "constraints:";
// A RUNNING trial's relative params as chunks of JSON text under
// kRelativeParamsAttrPrefix + "0", "1", …; written by Optuna's TPE, read by
// tpe_history for the constant liar.
inline constexpr std::string_view kRelativeParamsAttrPrefix = "tpe:relative_params:";

// ---- Study user attrs: Heretic's (method spec §7.4) ----

// The job settings (job_to_json) with this run's n_trials, as Heretic stores
// its own; written by the coordinator, read by its resume check
// (check_resumable) and by the status report for the budget.
inline constexpr std::string_view kSettingsAttr = "settings";
// True once n_trials trials are COMPLETE; written by the coordinator at the
// start and end of each run, read by Heretic (not by us).
inline constexpr std::string_view kFinishedAttr = "finished";

// ---- Study system attrs ----

// Optuna's objective names (set_metric_names); written by the coordinator
// from objective_names, read by the status report and optuna-dashboard.
inline constexpr std::string_view kMetricNamesAttr = "study:metric_names";
// Ours: the sampler's seed, written by the trial loop of a study's first run
// and read back by every resumed one.
inline constexpr std::string_view kSamplerSeedAttr = "abliterate:sampler_seed";

}  // namespace abliterate::study
