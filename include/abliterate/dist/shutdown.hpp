// Stop requests from signals (SIGINT, SIGTERM, SIGUSR1 — Slurm's preemption
// warning with --signal=B:USR1@N). The handler only stores an atomic flag;
// the coordinator polls it between trials (leveldb's shutting_down_).
#pragma once

namespace abliterate::dist {

// Installs the handlers. Rank 0 only.
void install_shutdown_handlers();

// True once a stop signal arrived: dispatch no new trial, finish in-flight ones.
bool shutdown_requested();

// The signal number that asked for the stop, 0 if none.
int shutdown_signal();

}  // namespace abliterate::dist
