// `abliterate status STORE`: one study's trials and Pareto front as text.
#pragma once

#include <string>

#include "abliterate/study/sqlite_store.hpp"

namespace abliterate::study {

// A header line (name, trial counts by state), the progress against the
// stored settings' n_trials, the directions, then one row per
// trial: number, state, the objective values (headed by the study system
// attr `study:metric_names` when set), the user attrs `refusals` (as R/N when
// `n_bad_prompts` is stored) and `kl_divergence`, a summary of the ablation
// parameters, and the fail reason; the failures grouped by reason; then the
// Pareto front (method spec §7.5).
// Throws InputError naming the store's studies when `study_name` is absent.
std::string format_status(const SqliteStore& store, const std::string& study_name);

}  // namespace abliterate::study
