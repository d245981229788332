// Module slurm: the batch script of `abliterate submit`: shell quoting, #SBATCH lines, rendering, sbatch.
// Must not know: jobs, sweeps, models or MPI: it renders the paths and numbers the cli hands it, as text.
//
// Quoting one value as one word of a bash command line, so that a path with
// spaces, quotes, `$(...)`, backquotes or globs reaches the program as
// written and runs nothing (Python's shlex.quote).
#pragma once

#include <string>
#include <string_view>

namespace abliterate::slurm {

// `value` in single quotes, each ' written as '\'' (close the quote, an
// escaped quote, reopen): inside single quotes bash expands nothing. Throws
// InputError when `value` holds a NUL byte, which no shell word can carry.
std::string shell_quote(std::string_view value);

}  // namespace abliterate::slurm
