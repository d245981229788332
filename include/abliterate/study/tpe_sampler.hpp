// Optuna 5.0's TPESampler (spec/optuna-compat.md §1–2): the same seed, the
// same history and the same suggest order give the same parameters as
// `study.ask()` followed by `trial.suggest_*` in `space` order.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "abliterate/study/numpy_random_state.hpp"
#include "abliterate/study/parzen_estimator.hpp"
#include "abliterate/study/random_sampler.hpp"
#include "abliterate/study/search_space.hpp"
#include "abliterate/study/store_schema.hpp"
#include "abliterate/study/trial.hpp"

namespace abliterate::study {

struct TpeOptions {
  int64_t n_startup_trials = 10;
  int64_t n_ei_candidates = 24;
  // Optuna 5.0's None: multivariate for one objective, independent for more.
  std::optional<bool> multivariate;
  bool constant_liar = true;  // RUNNING trials of others join the "above" set
  ParzenEstimatorOptions parzen;
};

// One parameter of a past trial: its distribution as that trial suggested
// it and the value in that distribution's internal representation.
struct TpeParam {
  std::string name;
  Distribution distribution;
  double value = 0;
};

// A trial as TPE reads it. FAIL and WAITING trials are ignored.
struct TpeTrial {
  int64_t number = 0;
  TrialState state = TrialState::COMPLETE;
  std::vector<TpeParam> params;
  std::vector<double> values;  // COMPLETE: one per objective
  // PRUNED: the last reported (step, value), if any.
  std::optional<std::pair<int64_t, double>> last_intermediate;
  // Sum of the positive constraint values; > 0 makes a finished trial infeasible.
  double constraint_violation = 0;
  // RUNNING: Optuna's `tpe:relative_params:<i>` chunks joined and parsed
  // (external values by name), or null.
  nlohmann::json relative_params = nullptr;
};

// Optuna's default_gamma (one objective) and default_gamma_multiobjective.
int64_t tpe_default_gamma(int64_t n, size_t n_objectives);

class TpeSampler {
 public:
  // Both streams start from `seed`, as TPESampler(seed=seed) does.
  TpeSampler(const TpeOptions& options, uint32_t seed);

  // Internal-repr values for trial `trial_number`, one per ParamSpec of
  // `space` in order. `history` holds the study's other trials (any order).
  ParamValues sample(const std::vector<ParamSpec>& space, const std::vector<TpeTrial>& history,
                     const std::vector<Direction>& directions, int64_t trial_number);

  // Advances both streams by what `n_trials` fresh trials of `space` would
  // draw at most (one random startup sample and one joint TPE draw each), so
  // that a resumed study never repeats the draws of the run before it.
  void skip_trials(const std::vector<ParamSpec>& space, int64_t n_trials);

  const TpeOptions& options() const { return options_; }

 private:
  ParamValues sample_tpe(const std::vector<ParamSpec>& search_space, const std::vector<const TpeTrial*>& pool,
                         const std::vector<Direction>& directions, bool multivariate);

  TpeOptions options_;
  NumpyRandomState rng_;           // TPE stream
  RandomSampler random_sampler_;   // startup stream
};

}  // namespace abliterate::study
