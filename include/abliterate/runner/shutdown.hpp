// Stop requests from signals (SIGINT, SIGTERM, SIGUSR1 — Slurm's preemption
// warning with --signal=B:USR1@N). The handler only stores an atomic flag;
// the coordinator polls it between trials (leveldb's shutting_down_). Before
// the trial loop a signal ends the process at once.
#pragma once

namespace abliterate::runner {

// Installs the handlers. Rank 0 only. Until stop_between_trials() a signal
// ends the process at once (a run killed in preparation resumes cleanly).
void install_shutdown_handlers();

// From here on a signal only sets the flag: the trial loop finishes the
// trials in flight and stops.
void stop_between_trials();

// Worker ranks: SIGINT, SIGTERM and SIGUSR1 are ignored. A signal sent to
// every rank of a step (srun, mpirun forwarding USR1) must not end a worker
// in the middle of a trial before rank 0 has decided what to do with it.
void ignore_stop_signals();

// True once a stop signal arrived: dispatch no new trial, finish in-flight ones.
bool shutdown_requested();

// The signal number that asked for the stop, 0 if none.
int shutdown_signal();

}  // namespace abliterate::runner
