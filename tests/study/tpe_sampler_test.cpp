// TPE against Optuna 5.0: every proposal of the golden cases in
// tests/fixtures/tpe (tests/reference/make_tpe_fixtures.py), plus the spec's
// golden numbers for the pieces.
#include "abliterate/study/tpe_sampler.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "abliterate/study/distribution.hpp"
#include "abliterate/study/hypervolume.hpp"
#include "abliterate/study/hypervolume_subset.hpp"
#include "abliterate/study/non_dominated_sort.hpp"
#include "abliterate/study/parzen_estimator.hpp"
#include "abliterate/study/search_space.hpp"

namespace abliterate::study {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kFixtureDir = fs::path(ABL_SOURCE_DIR) / "tests/fixtures/tpe";

json read_json(const fs::path& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << path;
  return json::parse(in);
}

std::vector<fs::path> fixture_files() {
  std::vector<fs::path> files;
  if (fs::is_directory(kFixtureDir)) {
    for (const auto& entry : fs::directory_iterator(kFixtureDir)) {
      if (entry.path().extension() == ".json") files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

FloatDistribution make_float(double low, double high, bool log = false, std::optional<double> step = std::nullopt) {
  FloatDistribution d;
  d.low = low;
  d.high = high;
  d.log = log;
  d.step = step;
  return d;
}

TrialState state_of(const std::string& s) { return trial_state_from_string(s); }

bool close(double actual, double expected) {
  return std::fabs(actual - expected) <= 1e-12 * std::max(std::fabs(expected), 1e-300);
}

class TpeFixture : public ::testing::TestWithParam<fs::path> {};

// Replays one case's ask/tell ops with our sampler: every ask must give
// Optuna's parameters (floats to 1e-12 relative, ints and choices exactly).
TEST_P(TpeFixture, MatchesOptuna) {
  const json doc = read_json(GetParam());
  std::vector<ParamSpec> space;
  for (const json& p : doc.at("space")) {
    space.push_back({p.at("name").get<std::string>(), distribution_from_json(p.at("distribution"))});
  }
  std::vector<Direction> directions;
  for (const json& d : doc.at("directions")) {
    directions.push_back(d.get<std::string>() == "minimize" ? Direction::MINIMIZE : Direction::MAXIMIZE);
  }
  const json& o = doc.at("options");
  TpeOptions options;
  options.n_startup_trials = o.at("n_startup_trials").get<int64_t>();
  options.n_ei_candidates = o.at("n_ei_candidates").get<int64_t>();
  if (!o.at("multivariate").is_null()) options.multivariate = o.at("multivariate").get<bool>();
  options.constant_liar = o.at("constant_liar").get<bool>();
  TpeSampler sampler(options, doc.at("seed").get<uint32_t>());

  const auto spec_of = [&](const std::string& name) -> const ParamSpec& {
    return *std::find_if(space.begin(), space.end(), [&](const ParamSpec& s) { return s.name == name; });
  };
  std::vector<TpeTrial> history;
  const auto trial_of = [&](int64_t number) -> TpeTrial& {
    return *std::find_if(history.begin(), history.end(), [&](const TpeTrial& t) { return t.number == number; });
  };
  int n_asks = 0;
  int n_values = 0;
  int n_identical = 0;
  double max_relative = 0;
  for (const json& op : doc.at("ops")) {
    const std::string kind = op.at("op");
    const int64_t number = op.at("number");
    if (kind == "add") {
      TpeTrial t;
      t.number = number;
      t.state = state_of(op.at("state"));
      for (const ParamSpec& spec : space) {
        t.params.push_back({spec.name, spec.distribution, op.at("params").at(spec.name).get<double>()});
      }
      t.values = op.at("values").get<std::vector<double>>();
      history.push_back(std::move(t));
    } else if (kind == "ask") {
      std::vector<ParamSpec> suggested;
      for (const json& name : op.at("suggest")) suggested.push_back(spec_of(name.get<std::string>()));
      const ParamValues got = sampler.sample(suggested, history, directions, number);
      ++n_asks;
      TpeTrial t;
      t.number = number;
      t.state = TrialState::RUNNING;
      for (size_t d = 0; d < suggested.size(); ++d) {
        const double expected = op.at("expected").at(suggested[d].name).get<double>();
        ++n_values;
        n_identical += got[d] == expected;
        if (expected != 0) max_relative = std::max(max_relative, std::fabs(got[d] - expected) / std::fabs(expected));
        if (std::holds_alternative<FloatDistribution>(suggested[d].distribution)) {
          EXPECT_PRED2(close, got[d], expected) << "trial " << number << " param " << suggested[d].name;
        } else {
          EXPECT_EQ(got[d], expected) << "trial " << number << " param " << suggested[d].name;
        }
        // Continue from Optuna's history, so one miss does not cascade.
        t.params.push_back({suggested[d].name, suggested[d].distribution, expected});
      }
      if (op.contains("relative_params")) t.relative_params = json::parse(op.at("relative_params").get<std::string>());
      history.push_back(std::move(t));
    } else {
      ASSERT_EQ(kind, "tell");
      TpeTrial& t = trial_of(number);
      t.state = state_of(op.at("state"));
      if (op.contains("values")) t.values = op.at("values").get<std::vector<double>>();
      if (op.contains("intermediate")) {
        t.last_intermediate = std::pair{op.at("intermediate")[0].get<int64_t>(), op.at("intermediate")[1].get<double>()};
      }
    }
  }
  EXPECT_GT(n_asks, 0);
  std::cout << GetParam().stem().string() << ": " << n_asks << " proposals, " << n_identical << "/" << n_values
            << " values bit-identical, max relative difference " << max_relative << "\n";
}

INSTANTIATE_TEST_SUITE_P(Optuna5, TpeFixture, ::testing::ValuesIn(fixture_files()),
                         [](const ::testing::TestParamInfo<fs::path>& info) { return info.param.stem().string(); });

TEST(TpeFixtures, AtLeastTwentyCasesCoverEveryKind) {
  const auto files = fixture_files();
  ASSERT_GE(files.size(), 20u);
  bool has_log_float = false, has_step_float = false, has_int = false, has_log_int = false, has_step_int = false,
       has_categorical = false, has_mo = false, has_running = false;
  for (const auto& file : files) {
    const json doc = read_json(file);
    has_mo = has_mo || doc.at("directions").size() > 1;
    for (const json& p : doc.at("space")) {
      const Distribution d = distribution_from_json(p.at("distribution"));
      if (const auto* f = std::get_if<FloatDistribution>(&d)) {
        has_log_float = has_log_float || f->log;
        has_step_float = has_step_float || f->step.has_value();
      } else if (const auto* i = std::get_if<IntDistribution>(&d)) {
        has_int = true;
        has_log_int = has_log_int || i->log;
        has_step_int = has_step_int || i->step > 1;
      } else {
        has_categorical = true;
      }
    }
    std::map<int64_t, bool> open;
    for (const json& op : doc.at("ops")) {
      if (op.at("op") == "ask") {
        if (!open.empty()) has_running = true;
        open[op.at("number").get<int64_t>()] = true;
      } else if (op.at("op") == "tell") {
        open.erase(op.at("number").get<int64_t>());
      }
    }
  }
  EXPECT_TRUE(has_log_float && has_step_float && has_int && has_log_int && has_step_int && has_categorical);
  EXPECT_TRUE(has_mo);
  EXPECT_TRUE(has_running);
}

// The fixtures' Heretic space is ours for a 30-layer model.
TEST(TpeFixtures, HereticSpaceMatchesSearchSpace) {
  const json doc = read_json(kFixtureDir / "heretic_sequential.json");
  const std::vector<ParamSpec> ours = heretic_search_space(30);
  ASSERT_EQ(doc.at("space").size(), ours.size());
  for (size_t i = 0; i < ours.size(); ++i) {
    EXPECT_EQ(doc.at("space")[i].at("name").get<std::string>(), ours[i].name);
    EXPECT_EQ(distribution_from_json(doc.at("space")[i].at("distribution")), ours[i].distribution) << ours[i].name;
  }
}

// numpy: list(RandomState(5).choice(4, p=[.1, .2, .3, .4], size=8)).
TEST(NumpyRandomStateChoice, MatchesNumpy) {
  NumpyRandomState rng(5);
  const std::vector<double> p = {0.1, 0.2, 0.3, 0.4};
  EXPECT_EQ(rng.choice(p, 8), (std::vector<int64_t>{1, 3, 1, 3, 2, 3, 3, 2}));
}

// Spec §1.9 golden numbers.
TEST(ParzenEstimator, GoldenDensities) {
  const ParzenEstimatorOptions options;
  {
    const ParzenEstimator pe({{"x", make_float(0, 1)}}, {{0.1, 0.5, 0.9}}, options);
    const auto lp = pe.log_pdf({{0.3, 0.5}});
    EXPECT_NEAR(lp[0], 0.0464093731228451, 1e-15);
    EXPECT_NEAR(lp[1], 0.08830504025149866, 1e-15);
  }
  {
    const ParzenEstimator pe({{"n", IntDistribution{0, 10, false, 2}}}, {{2, 4}}, options);
    const auto lp = pe.log_pdf({{2, 10}});
    EXPECT_NEAR(lp[0], -1.4515227608898513, 1e-14);
    EXPECT_NEAR(lp[1], -2.662010425798269, 1e-14);
  }
  {
    const ParzenEstimator pe({{"u", IntDistribution{1, 100, true, 1}}}, {{10, 50}}, options);
    EXPECT_NEAR(pe.log_pdf({{10}})[0], -3.758036766066705, 1e-14);
  }
}

TEST(ParzenEstimator, DefaultWeightsRamp) {
  EXPECT_TRUE(default_tpe_weights(0).empty());
  EXPECT_EQ(default_tpe_weights(3), std::vector<double>(3, 1.0));
  const auto w = default_tpe_weights(30);
  ASSERT_EQ(w.size(), 30u);
  EXPECT_DOUBLE_EQ(w[0], 1.0 / 30);
  EXPECT_DOUBLE_EQ(w[1], 0.275);
  EXPECT_EQ(w[4], 1.0);
  EXPECT_EQ(w[29], 1.0);
}

// Spec §1.9 end to end: 11 added trials, next suggest_float("x", 0, 1).
TEST(TpeSampler, SpecEndToEndExample) {
  const std::vector<double> xs = {.05, .15, .25, .35, .45, .55, .65, .75, .85, .95, .33};
  const std::vector<double> ys = {.9, .5, .2, .1, .3, .4, .6, .7, .8, 1.0, .05};
  std::vector<TpeTrial> history;
  for (size_t i = 0; i < xs.size(); ++i) {
    history.push_back({static_cast<int64_t>(i), TrialState::COMPLETE, {{"x", make_float(0, 1), xs[i]}}, {ys[i]}, {}, 0, nullptr});
  }
  for (bool multivariate : {true, false}) {
    TpeOptions options;
    options.multivariate = multivariate;
    TpeSampler sampler(options, 0);
    const ParamValues v = sampler.sample({{"x", make_float(0, 1)}}, history, {Direction::MINIMIZE}, 11);
    EXPECT_NEAR(v[0], 0.3706574764067159, 1e-15) << multivariate;
  }
}

TEST(TpeSampler, DefaultGamma) {
  EXPECT_EQ(tpe_default_gamma(0, 1), 0);
  EXPECT_EQ(tpe_default_gamma(11, 1), 2);
  EXPECT_EQ(tpe_default_gamma(1000, 1), 25);
  EXPECT_EQ(tpe_default_gamma(1000, 2), 100);
}

// Spec §1.8's verified split example, through the pieces TPE uses.
TEST(MultiObjectiveSplit, SpecExample) {
  const LossVectors losses = {{1, 9}, {2, 5}, {5, 2}, {9, 1}, {4, 4.5}};
  const std::vector<int64_t> ranks = non_domination_ranks(losses, 2);
  EXPECT_EQ(ranks, (std::vector<int64_t>{0, 0, 0, 0, 0}));
  const std::vector<double> reference = hssp_reference_point(losses);
  EXPECT_DOUBLE_EQ(reference[0], 9.9);
  EXPECT_DOUBLE_EQ(reference[1], 9.9);
  std::vector<int64_t> two = solve_hssp(losses, {0, 1, 2, 3, 7}, 2, reference);
  std::sort(two.begin(), two.end());
  EXPECT_EQ(two, (std::vector<int64_t>{1, 2}));
  std::vector<int64_t> three = solve_hssp(losses, {0, 1, 2, 3, 7}, 3, reference);
  std::sort(three.begin(), three.end());
  EXPECT_EQ(three, (std::vector<int64_t>{0, 1, 2}));
}

TEST(NonDominatedSort, PeelsFronts) {
  const LossVectors losses = {{3, 3}, {1, 2}, {2, 1}, {2, 2}, {1, 2}};
  EXPECT_EQ(non_domination_ranks(losses), (std::vector<int64_t>{2, 0, 0, 1, 0}));
}

TEST(Hypervolume, TwoAndThreeDimensions) {
  EXPECT_DOUBLE_EQ(hypervolume({{1, 2}, {2, 1}}, {3, 3}), 3.0);
  EXPECT_DOUBLE_EQ(hypervolume({{1, 1, 1}}, {2, 2, 2}), 1.0);
  // Two overlapping boxes: 4 + 4 − 2.
  EXPECT_DOUBLE_EQ(hypervolume({{0, 1, 0}, {1, 0, 0}}, {2, 2, 1}), 3.0);
  EXPECT_EQ(hypervolume({}, {1, 1}), 0.0);
}

}  // namespace
}  // namespace abliterate::study
