// TPE time per proposal with Heretic's search space (a 30-layer model),
// 128 candidates, two objectives, multivariate, constant liar — the
// coordinator's configuration (method spec §7.1). History: N COMPLETE trials
// with random parameters and random objective values, plus two RUNNING ones.
//   build/sampler_bench [REPEATS]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <vector>

#include "abliterate/study/random_sampler.hpp"
#include "abliterate/study/search_space.hpp"
#include "abliterate/study/tpe_sampler.hpp"

using namespace abliterate::study;

namespace {

// This process's CPU time: on a shared machine wall time mostly measures the
// other processes.
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::vector<TpeTrial> make_history(const std::vector<ParamSpec>& space, int64_t n_complete) {
  RandomSampler params_rng(1);
  NumpyRandomState values_rng(2);
  std::vector<TpeTrial> history;
  for (int64_t number = 0; number < n_complete + 2; ++number) {
    TpeTrial t;
    t.number = number;
    t.state = number < n_complete ? TrialState::COMPLETE : TrialState::RUNNING;
    const ParamValues values = params_rng.sample(space);
    for (size_t d = 0; d < space.size(); ++d) t.params.push_back({space[d].name, space[d].distribution, values[d]});
    if (t.state == TrialState::COMPLETE) {
      // KL-like and refusal-like objectives; refusals are small integers.
      t.values = {values_rng.random_sample(), static_cast<double>(static_cast<int>(values_rng.uniform(0, 30)))};
    }
    history.push_back(std::move(t));
  }
  return history;
}

}  // namespace

int main(int argc, char** argv) {
  const int repeats = argc > 1 ? std::atoi(argv[1]) : 20;
  const std::vector<ParamSpec> space = heretic_search_space(30);
  TpeOptions options;
  options.n_startup_trials = 60;
  options.n_ei_candidates = 128;
  options.multivariate = true;
  options.constant_liar = true;
  const std::vector<Direction> directions = {Direction::MINIMIZE, Direction::MINIMIZE};
  std::printf("TPE proposal time: %zu parameters, %lld candidates, 2 objectives, multivariate, constant liar\n",
              space.size(), static_cast<long long>(options.n_ei_candidates));
  for (int64_t n : {100, 1000, 5000}) {
    const std::vector<TpeTrial> history = make_history(space, n);
    TpeSampler sampler(options, 0);
    std::vector<double> wall_ms;
    std::vector<double> cpu_ms;
    for (int r = 0; r < repeats; ++r) {
      const auto start = std::chrono::steady_clock::now();
      const double cpu_start = cpu_seconds();
      const ParamValues v = sampler.sample(space, history, directions, n + 2);
      cpu_ms.push_back((cpu_seconds() - cpu_start) * 1e3);
      wall_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
      if (v.size() != space.size()) return 1;
    }
    std::sort(wall_ms.begin(), wall_ms.end());
    std::sort(cpu_ms.begin(), cpu_ms.end());
    std::printf("%5lld completed trials: %7.2f ms per proposal (median wall), %7.2f ms (median CPU), %7.2f ms (min CPU)\n",
                static_cast<long long>(n), wall_ms[wall_ms.size() / 2], cpu_ms[cpu_ms.size() / 2], cpu_ms.front());
  }
  return 0;
}
