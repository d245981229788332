// How a run of the trial loop ended, and the process exit code of each end:
// one table, which slurm/ batch scripts and the README read.
#pragma once

namespace abliterate::runner {

enum class RunEnd {
  finished,          // the budget is reached
  interrupted,       // a stop signal: resumable, e.g. after a Slurm requeue
  worker_timed_out,  // a worker sent nothing for worker_timeout seconds
};

struct RunOutcome {
  RunEnd end = RunEnd::finished;
  // Workers are still busy on trials the run gave up (the grace period ran
  // out, or a worker hung): only ending every rank stops them.
  bool workers_abandoned = false;
};

// 0 finished; 75 (sysexits' EX_TEMPFAIL) interrupted, resume with the same
// command; 3 a worker timed out. Errors exit 1, usage errors 2.
constexpr int exit_code(RunEnd end) {
  switch (end) {
    case RunEnd::finished: return 0;
    case RunEnd::interrupted: return 75;
    case RunEnd::worker_timed_out: return 3;
  }
  return 1;
}

}  // namespace abliterate::runner
