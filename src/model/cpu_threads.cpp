// configure_cpu_threads: see include/abliterate/model/cpu_threads.hpp.
#include "abliterate/model/cpu_threads.hpp"

#include <cstdlib>
#include <thread>

#include <torch/torch.h>

namespace abliterate::model {

int configure_cpu_threads(int n_threads) {
  if (n_threads > 0) {
    torch::set_num_threads(n_threads);
  } else if (std::getenv("OMP_NUM_THREADS") == nullptr) {
    const unsigned hardware_threads = std::thread::hardware_concurrency();
    if (hardware_threads > 0) torch::set_num_threads(static_cast<int>(hardware_threads));
  }
  return torch::get_num_threads();
}

}  // namespace abliterate::model
