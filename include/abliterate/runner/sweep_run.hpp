// A sweep's studies on the ranks of one allocation (issue 12). The workers
// are split into groups, one coordinator each, so that N models run side by
// side; with fewer groups than entries a group runs its entries one after
// another. A finished entry is skipped, an unfinished one resumed.
#pragma once

#include <cstddef>
#include <optional>

#include "abliterate/config/sweep.hpp"
#include "abliterate/mpi/mpi_context.hpp"

namespace abliterate::runner {

struct SweepOptions {
  std::optional<size_t> entry;  // run this entry only (a Slurm job array task)
};

// Runs every rank's part of the sweep; returns the process exit code
// (run_outcome.hpp; 1 when an entry failed, after the others in its group
// were left for a resume). Ends every rank itself when workers were abandoned.
int run_sweep(const config::Sweep& sweep, const SweepOptions& options, const mpi::MpiContext& mpi_context);

// The file an entry's failure is written to, in its folder; removed when the
// entry runs again. `abliterate status DIR` shows such an entry as failed.
inline constexpr const char* kEntryErrorFile = "error.txt";

}  // namespace abliterate::runner
