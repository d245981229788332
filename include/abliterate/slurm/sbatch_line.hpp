// `#SBATCH` lines. sbatch reads them itself, not the shell: it splits a line
// at blanks, takes '...' and "..." as quotes and \ as an escape, ends the
// option at an unquoted #, and a newline ends the line (Slurm 22.05,
// src/sbatch/opt.c, _get_argument). Rather than quote for that second
// grammar, a value is held to characters that mean nothing in it, which is
// every value Slurm itself accepts for the options we write (times, names of
// partitions, accounts and QOS, counts, array ranges).
#pragma once

#include <string>
#include <string_view>

namespace abliterate::slurm {

// "#SBATCH --<option>=<value>". Throws InputError naming the option, the
// value, the first character that cannot go on the line and why, when the
// value is empty or holds anything but letters, digits and - _ . , : = + / @ % [ ].
std::string sbatch_line(std::string_view option, std::string_view value);

// "#SBATCH --<option>", an option without a value (--requeue).
std::string sbatch_flag_line(std::string_view option);

// `text` with every character an #SBATCH value cannot hold replaced by '_':
// for values derived from file names (the job name), where a rename is
// better than a refusal.
std::string sbatch_safe(std::string_view text);

}  // namespace abliterate::slurm
