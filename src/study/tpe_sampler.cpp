// Optuna 5.0's TPESampler (optuna/samplers/_tpe/sampler.py; spec
// optuna-compat.md §1–2), following one trial's ask + suggest_* sequence.
#include "abliterate/study/tpe_sampler.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include "abliterate/common/error.hpp"
#include "abliterate/study/hypervolume_subset.hpp"
#include "abliterate/study/non_dominated_sort.hpp"

namespace abliterate::study {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Distribution.single(): a one-value range, suggested without sampling.
bool is_single(const Distribution& distribution) {
  if (const auto* f = std::get_if<FloatDistribution>(&distribution)) {
    if (f->low == f->high) return true;
    return f->step && (f->high - f->low) < *f->step;
  }
  if (const auto* i = std::get_if<IntDistribution>(&distribution)) {
    if (i->low == i->high) return true;
    return !i->log && (i->high - i->low) < i->step;
  }
  return std::get<CategoricalDistribution>(distribution).choices.size() == 1;
}

// The internal value of a single() distribution: low, or the one choice.
double single_value(const Distribution& distribution) {
  if (const auto* f = std::get_if<FloatDistribution>(&distribution)) return f->low;
  if (const auto* i = std::get_if<IntDistribution>(&distribution)) return static_cast<double>(i->low);
  return 0.0;
}

// Distribution._contains for an internal value.
bool contains(const Distribution& distribution, double value) {
  if (const auto* f = std::get_if<FloatDistribution>(&distribution)) {
    if (!(f->low <= value && value <= f->high)) return false;
    if (!f->step) return true;
    const double k = (value - f->low) / *f->step;
    return std::fabs(k - std::nearbyint(k)) < 1e-8;
  }
  if (const auto* i = std::get_if<IntDistribution>(&distribution)) {
    const auto v = static_cast<int64_t>(value);
    return i->low <= v && v <= i->high && (v - i->low) % i->step == 0;
  }
  const auto& c = std::get<CategoricalDistribution>(distribution);
  const auto idx = static_cast<int64_t>(value);
  return idx >= 0 && idx < static_cast<int64_t>(c.choices.size());
}

// A past value, internal to its own distribution, re-expressed in the
// internal representation of `target` (external value in between, as
// Optuna's trial.params → to_internal_repr does).
std::optional<double> to_internal(const TpeParam& param, const Distribution& target) {
  if (const auto* c = std::get_if<CategoricalDistribution>(&target)) {
    const auto* own = std::get_if<CategoricalDistribution>(&param.distribution);
    if (own == nullptr) return std::nullopt;
    const auto idx = static_cast<size_t>(static_cast<int64_t>(param.value));
    if (idx >= own->choices.size()) return std::nullopt;
    const auto it = std::find(c->choices.begin(), c->choices.end(), own->choices[idx]);
    if (it == c->choices.end()) return std::nullopt;
    return static_cast<double>(it - c->choices.begin());
  }
  if (std::holds_alternative<CategoricalDistribution>(param.distribution)) return std::nullopt;
  if (std::holds_alternative<IntDistribution>(param.distribution) ||
      std::holds_alternative<IntDistribution>(target)) {
    return static_cast<double>(static_cast<int64_t>(param.value));
  }
  return param.value;
}

// An external JSON value (tpe:relative_params) in the internal
// representation of `target`.
std::optional<double> json_to_internal(const nlohmann::json& value, const Distribution& target) {
  if (const auto* c = std::get_if<CategoricalDistribution>(&target)) {
    if (!value.is_string()) return std::nullopt;
    const auto it = std::find(c->choices.begin(), c->choices.end(), value.get<std::string>());
    if (it == c->choices.end()) return std::nullopt;
    return static_cast<double>(it - c->choices.begin());
  }
  if (!value.is_number()) return std::nullopt;
  if (std::holds_alternative<IntDistribution>(target)) return static_cast<double>(value.get<int64_t>());
  return value.get<double>();
}

// The index of parameter `name` in `trial`, trying `hint` first (trials of
// one study store their params in the same order).
std::optional<size_t> param_index(const TpeTrial& trial, const std::string& name, size_t hint) {
  if (hint < trial.params.size() && trial.params[hint].name == name) return hint;
  for (size_t i = 0; i < trial.params.size(); ++i) {
    if (trial.params[i].name == name) return i;
  }
  return std::nullopt;
}

// _get_params + _get_internal_repr for one trial: the values of every
// dimension of `space` appended to `columns`, or nothing when the trial lacks
// one. `hints` caches where each name sat in the previous trial.
void append_trial_point(const TpeTrial& trial, const std::vector<ParamSpec>& space, bool multivariate,
                        std::vector<size_t>& hints, PointBatch& columns) {
  static thread_local std::vector<double> point;
  point.resize(space.size());
  const bool use_relative = trial.state == TrialState::RUNNING && multivariate && trial.relative_params.is_object();
  for (size_t d = 0; d < space.size(); ++d) {
    const std::optional<size_t> at = param_index(trial, space[d].name, hints[d]);
    std::optional<double> value;
    if (at) {
      hints[d] = *at;
      value = to_internal(trial.params[*at], space[d].distribution);
    } else if (use_relative && trial.relative_params.contains(space[d].name)) {
      value = json_to_internal(trial.relative_params.at(space[d].name), space[d].distribution);
    }
    if (!value) return;
    point[d] = *value;
  }
  for (size_t d = 0; d < space.size(); ++d) columns[d].push_back(point[d]);
}

// Optuna's _get_pruned_trial_score: (−last step, last value) with NaN as +∞;
// no intermediate values rank last.
std::pair<double, double> pruned_score(const TpeTrial& trial, Direction direction) {
  if (!trial.last_intermediate) return {1, 0.0};
  const auto [step, value] = *trial.last_intermediate;
  if (std::isnan(value)) return {-static_cast<double>(step), kInf};
  return {-static_cast<double>(step), direction == Direction::MINIMIZE ? value : -value};
}

using TrialList = std::vector<const TpeTrial*>;

std::pair<TrialList, TrialList> split_complete_single(const TrialList& trials, Direction direction, size_t n_below) {
  TrialList sorted = trials;
  if (direction == Direction::MINIMIZE) {
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const TpeTrial* a, const TpeTrial* b) { return a->values[0] < b->values[0]; });
  } else {
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const TpeTrial* a, const TpeTrial* b) { return a->values[0] > b->values[0]; });
  }
  return {TrialList(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(n_below)),
          TrialList(sorted.begin() + static_cast<std::ptrdiff_t>(n_below), sorted.end())};
}

// _split_complete_trials_multi_objective: whole non-domination fronts, then
// hypervolume subset selection inside the first front that does not fit.
std::pair<TrialList, TrialList> split_complete_multi(const TrialList& trials, const std::vector<Direction>& directions,
                                                     size_t n_below) {
  if (n_below == 0) return {{}, trials};
  if (n_below == trials.size()) return {trials, {}};
  LossVectors losses;
  for (const TpeTrial* t : trials) {
    ABL_ASSERT(t->values.size() == directions.size(), "trial {}: {} values for {} objectives", t->number,
               t->values.size(), directions.size());
    std::vector<double> row(directions.size());
    for (size_t m = 0; m < directions.size(); ++m) {
      row[m] = t->values[m] * (directions[m] == Direction::MAXIMIZE ? -1.0 : 1.0);
    }
    losses.push_back(std::move(row));
  }
  const std::vector<int64_t> ranks = non_domination_ranks(losses, n_below);
  std::map<int64_t, size_t> rank_counts;
  for (int64_t r : ranks) ++rank_counts[r];
  int64_t last_rank = -1;
  size_t cumulative = 0;
  for (const auto& [rank, count] : rank_counts) {
    cumulative += count;
    if (cumulative <= n_below) last_rank = std::max(last_rank, rank);
  }
  std::vector<bool> below(trials.size(), false);
  size_t n_taken = 0;
  for (size_t i = 0; i < trials.size(); ++i) {
    if (ranks[i] <= last_rank) {
      below[i] = true;
      ++n_taken;
    }
  }
  if (n_taken < n_below) {
    LossVectors front;
    std::vector<int64_t> front_indices;
    for (size_t i = 0; i < trials.size(); ++i) {
      if (ranks[i] == last_rank + 1) {
        front.push_back(losses[i]);
        front_indices.push_back(static_cast<int64_t>(i));
      }
    }
    for (int64_t idx : solve_hssp(front, front_indices, n_below - n_taken, hssp_reference_point(front))) {
      below[static_cast<size_t>(idx)] = true;
    }
  }
  std::pair<TrialList, TrialList> out;
  for (size_t i = 0; i < trials.size(); ++i) (below[i] ? out.first : out.second).push_back(trials[i]);
  return out;
}

// _split_trials: complete, then pruned, then infeasible trials fill "below";
// the rest and every RUNNING trial go "above". Both by trial number.
std::pair<TrialList, TrialList> split_trials(const TrialList& trials, const std::vector<Direction>& directions,
                                             size_t n_below) {
  TrialList complete, pruned, running, infeasible;
  for (const TpeTrial* t : trials) {
    if (t->state == TrialState::RUNNING) {
      running.push_back(t);
    } else if (t->constraint_violation > 0) {
      infeasible.push_back(t);
    } else if (t->state == TrialState::COMPLETE) {
      complete.push_back(t);
    } else {
      pruned.push_back(t);
    }
  }
  const size_t n_complete_below = std::min(n_below, complete.size());
  auto [below, above] = directions.size() <= 1
                            ? split_complete_single(complete, directions.at(0), n_complete_below)
                            : split_complete_multi(complete, directions, n_complete_below);
  size_t remaining = n_below - std::min(n_below, below.size());

  std::stable_sort(pruned.begin(), pruned.end(), [&](const TpeTrial* a, const TpeTrial* b) {
    return pruned_score(*a, directions.at(0)) < pruned_score(*b, directions.at(0));
  });
  const size_t n_pruned_below = std::min(remaining, pruned.size());
  below.insert(below.end(), pruned.begin(), pruned.begin() + static_cast<std::ptrdiff_t>(n_pruned_below));
  above.insert(above.end(), pruned.begin() + static_cast<std::ptrdiff_t>(n_pruned_below), pruned.end());
  remaining -= n_pruned_below;

  std::stable_sort(infeasible.begin(), infeasible.end(), [](const TpeTrial* a, const TpeTrial* b) {
    return a->constraint_violation < b->constraint_violation;
  });
  const size_t n_infeasible_below = std::min(remaining, infeasible.size());
  below.insert(below.end(), infeasible.begin(), infeasible.begin() + static_cast<std::ptrdiff_t>(n_infeasible_below));
  above.insert(above.end(), infeasible.begin() + static_cast<std::ptrdiff_t>(n_infeasible_below), infeasible.end());
  above.insert(above.end(), running.begin(), running.end());

  const auto by_number = [](const TpeTrial* a, const TpeTrial* b) { return a->number < b->number; };
  std::stable_sort(below.begin(), below.end(), by_number);
  std::stable_sort(above.begin(), above.end(), by_number);
  return {below, above};
}

PointBatch observations_of(const TrialList& trials, const std::vector<ParamSpec>& space, bool multivariate) {
  PointBatch columns(space.size());
  for (auto& column : columns) column.reserve(trials.size());
  std::vector<size_t> hints(space.size(), 0);
  for (const TpeTrial* t : trials) append_trial_point(*t, space, multivariate, hints, columns);
  return columns;
}

// The draws one _sample call makes from the TPE stream.
size_t tpe_draws(const std::vector<ParamSpec>& space, int64_t n_candidates) {
  size_t per_candidate = 1;  // mixture component
  for (const ParamSpec& spec : space) {
    if (!is_single(spec.distribution)) ++per_candidate;
  }
  return per_candidate * static_cast<size_t>(n_candidates);
}

}  // namespace

int64_t tpe_default_gamma(int64_t n, size_t n_objectives) {
  const auto g = static_cast<int64_t>(std::ceil(0.1 * static_cast<double>(n)));
  return n_objectives <= 1 ? std::min<int64_t>(g, 25) : g;
}

TpeSampler::TpeSampler(const TpeOptions& options, uint32_t seed)
    : options_(options), rng_(seed), random_sampler_(seed) {
  ABL_CHECK(options.n_startup_trials >= 0, InputError, "TPE: n_startup_trials must be >= 0, got {}",
            options.n_startup_trials);
  ABL_CHECK(options.n_ei_candidates >= 1, InputError, "TPE: n_ei_candidates must be >= 1, got {}",
            options.n_ei_candidates);
}

void TpeSampler::skip_trials(const std::vector<ParamSpec>& space, int64_t n_trials) {
  for (int64_t t = 0; t < n_trials; ++t) {
    for (const ParamSpec& spec : space) {
      if (!is_single(spec.distribution)) random_sampler_.sample(spec.distribution);
    }
    const size_t draws = tpe_draws(space, options_.n_ei_candidates);
    for (size_t i = 0; i < draws; ++i) rng_.random_sample();
  }
}

ParamValues TpeSampler::sample(const std::vector<ParamSpec>& space, const std::vector<TpeTrial>& history,
                               const std::vector<Direction>& directions, int64_t trial_number) {
  ABL_CHECK(!directions.empty(), InputError, "TPE: the study has no directions");
  TrialList by_number;
  for (const TpeTrial& t : history) {
    if (t.number != trial_number) by_number.push_back(&t);
  }
  std::stable_sort(by_number.begin(), by_number.end(),
                   [](const TpeTrial* a, const TpeTrial* b) { return a->number < b->number; });
  TrialList finished;  // COMPLETE and PRUNED
  TrialList pool;      // what _sample reads
  for (const TpeTrial* t : by_number) {
    const bool is_finished = t->state == TrialState::COMPLETE || t->state == TrialState::PRUNED;
    if (is_finished) finished.push_back(t);
    if (is_finished || (options_.constant_liar && t->state == TrialState::RUNNING)) pool.push_back(t);
  }
  const bool multivariate = options_.multivariate.value_or(directions.size() == 1);
  const bool in_startup = static_cast<int64_t>(finished.size()) < options_.n_startup_trials;

  // Relative (joint) sampling over the intersection space of the finished
  // trials, ordered by name, once per trial.
  std::map<std::string, double> relative;
  std::map<std::string, Distribution> relative_space;
  if (multivariate && !finished.empty()) {
    // Names and distributions shared by every finished trial; each entry
    // remembers where its name sat in the previous trial.
    struct Shared {
      const TpeParam* param;
      size_t hint;
    };
    std::vector<Shared> shared;
    for (size_t i = 0; i < finished.front()->params.size(); ++i) shared.push_back({&finished.front()->params[i], i});
    for (const TpeTrial* t : finished) {
      std::erase_if(shared, [&](Shared& entry) {
        const std::optional<size_t> at = param_index(*t, entry.param->name, entry.hint);
        if (!at) return true;
        entry.hint = *at;
        return !(t->params[*at].distribution == entry.param->distribution);
      });
    }
    for (const Shared& entry : shared) {
      if (!is_single(entry.param->distribution)) relative_space.emplace(entry.param->name, entry.param->distribution);
    }
    if (!relative_space.empty() && !in_startup) {
      std::vector<ParamSpec> joint;
      for (const auto& [name, distribution] : relative_space) joint.push_back({name, distribution});
      const ParamValues values = sample_tpe(joint, pool, directions, multivariate);
      for (size_t d = 0; d < joint.size(); ++d) relative.emplace(joint[d].name, values[d]);
    }
  }

  ParamValues out;
  out.reserve(space.size());
  for (const ParamSpec& spec : space) {
    if (is_single(spec.distribution)) {
      out.push_back(single_value(spec.distribution));
      continue;
    }
    const auto rel = relative.find(spec.name);
    if (rel != relative.end()) {
      const Distribution& joint_distribution = relative_space.at(spec.name);
      ABL_CHECK(distributions_compatible(joint_distribution, spec.distribution), InputError,
                "TPE: parameter \"{}\" changed its kind of distribution within the study", spec.name);
      TpeParam as_param{spec.name, joint_distribution, rel->second};
      const std::optional<double> value = to_internal(as_param, spec.distribution);
      if (value && contains(spec.distribution, *value)) {
        out.push_back(*value);
        continue;
      }
    }
    if (in_startup) {
      out.push_back(random_sampler_.sample(spec.distribution));
    } else {
      out.push_back(sample_tpe({spec}, pool, directions, multivariate).front());
    }
  }
  return out;
}

ParamValues TpeSampler::sample_tpe(const std::vector<ParamSpec>& search_space, const TrialList& pool,
                                   const std::vector<Direction>& directions, bool multivariate) {
  int64_t n = 0;
  for (const TpeTrial* t : pool) n += t->state != TrialState::RUNNING;
  const auto n_below = static_cast<size_t>(tpe_default_gamma(n, directions.size()));
  const auto [below_trials, above_trials] = split_trials(pool, directions, n_below);

  const PointBatch below_points = observations_of(below_trials, search_space, multivariate);
  const PointBatch above_points = observations_of(above_trials, search_space, multivariate);
  std::optional<std::vector<double>> below_weights;
  if (directions.size() > 1) below_weights = std::vector<double>(below_points.empty() ? 0 : below_points[0].size(), 1.0);
  const ParzenEstimator below(search_space, below_points, options_.parzen, below_weights);
  const ParzenEstimator above(search_space, above_points, options_.parzen);

  const auto n_candidates = static_cast<size_t>(options_.n_ei_candidates);
  const PointBatch candidates = below.sample(rng_, n_candidates);
  const std::vector<double> log_below = below.log_pdf(candidates);
  const std::vector<double> log_above = above.log_pdf(candidates);
  // np.argmax: the first maximum; NaN wins as numpy's does.
  size_t best = 0;
  double best_value = log_below[0] - log_above[0];
  for (size_t i = 1; i < n_candidates && !std::isnan(best_value); ++i) {
    const double acq = log_below[i] - log_above[i];
    if (std::isnan(acq) || acq > best_value) {
      best = i;
      best_value = acq;
    }
  }
  ParamValues out(search_space.size());
  for (size_t d = 0; d < search_space.size(); ++d) {
    double v = candidates[d][best];
    // to_external_repr then back: int(v) for ints, the index for categoricals.
    if (!std::holds_alternative<FloatDistribution>(search_space[d].distribution)) {
      v = static_cast<double>(static_cast<int64_t>(v));
    }
    out[d] = v;
  }
  return out;
}

}  // namespace abliterate::study
