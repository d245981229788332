// How many CPU threads LibTorch's intra-op pool uses. Process-wide state, so
// the library never changes it on its own: the CLI (or the worker) calls this
// once at startup. Model::load leaves the setting alone.
#pragma once

namespace abliterate::model {

// Sets torch's intra-op thread count and returns the count in effect.
// n_threads > 0: exactly that many. n_threads == 0: every hardware thread,
// unless OMP_NUM_THREADS is set (then torch's own reading of it stands).
// On the Debian build machines torch otherwise starts with 1 thread
// (reference/build-environment.md, "Threads"). Call before any torch work.
int configure_cpu_threads(int n_threads);

}  // namespace abliterate::model
