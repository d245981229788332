// The Pareto front of raw (refusals, KL) shown to the user (method spec §7.5).
#include "abliterate/study/pareto.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "abliterate/common/error.hpp"
#include "abliterate/study/attribute_names.hpp"

namespace abliterate::study {
namespace {

double number_attr(const Trial& trial, std::string_view key) {
  ABL_CHECK(trial.user_attrs.is_object() && trial.user_attrs.contains(key) && trial.user_attrs.at(key).is_number(),
            FormatError, "trial {}: COMPLETE but user attr \"{}\" is {}; expected a number", trial.number, key,
            trial.user_attrs.is_object() && trial.user_attrs.contains(key) ? trial.user_attrs.at(key).dump()
                                                                             : "missing");
  return trial.user_attrs.at(key).get<double>();
}

}  // namespace

std::vector<Trial> pareto_front(const std::vector<Trial>& trials) {
  struct Point {
    double refusals;
    double kl_divergence;
    const Trial* trial;
  };
  std::vector<Point> points;
  for (const Trial& trial : trials) {
    if (trial.state != TrialState::COMPLETE) continue;
    points.push_back({number_attr(trial, kRefusalsAttr), number_attr(trial, kKlDivergenceAttr), &trial});
  }
  // Python's sorted() is stable: trials equal in both keys keep their input
  // order, and then only the first of them can pass the strict KL test.
  std::stable_sort(points.begin(), points.end(), [](const Point& a, const Point& b) {
    if (a.refusals != b.refusals) return a.refusals < b.refusals;
    return a.kl_divergence < b.kl_divergence;
  });
  std::vector<Trial> front;
  double min_kl_divergence = std::numeric_limits<double>::infinity();
  for (const Point& point : points) {
    if (point.kl_divergence < min_kl_divergence) {
      min_kl_divergence = point.kl_divergence;
      front.push_back(*point.trial);
    }
  }
  return front;
}

// Heretic labels a trial with its 1-based user attr `index` (its own run
// counter). We print the trial number as stored instead: it is what
// `abliterate status`, `abliterate export --trial N` and optuna-dashboard
// show, and our numbers count FAIL trials too, so no 1-based counter would
// match Heretic's anyway.
std::string format_pareto_front(const std::vector<Trial>& front, int64_t n_bad_prompts) {
  return format_pareto_front(front, std::optional<int64_t>(n_bad_prompts));
}

std::string format_pareto_front(const std::vector<Trial>& front, std::optional<int64_t> n_bad_prompts) {
  const std::string n_text = n_bad_prompts ? std::to_string(*n_bad_prompts) : "?";
  std::string out;
  for (const Trial& trial : front) {
    out += fmt::format("[Trial {:3d}] Refusals: {:2d}/{}, KL divergence: {:.4f}\n", trial.number,
                       static_cast<int64_t>(std::llround(number_attr(trial, kRefusalsAttr))), n_text,
                       number_attr(trial, kKlDivergenceAttr));
  }
  return out;
}

}  // namespace abliterate::study
