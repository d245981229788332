// Submitting a batch script: `sbatch --parsable` with the script on its
// standard input, run in the current folder (which becomes the job's log
// folder: slurm-<id>.out).
#pragma once

#include <string>
#include <string_view>

namespace abliterate::slurm {

// Runs sbatch, found on PATH, with `script` on its stdin; returns the job id
// it prints (an array's id for a job array). Throws InputError when no
// sbatch is on PATH, and when sbatch fails: with its exit status and its
// stderr, which says why (an unknown partition, no such account, ...).
std::string submit_with_sbatch(std::string_view script);

}  // namespace abliterate::slurm
