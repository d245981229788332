#include "abliterate/runner/shutdown.hpp"

#include <atomic>
#include <csignal>

#include <unistd.h>

namespace abliterate::runner {
namespace {

std::atomic<int> g_signal{0};
std::atomic<bool> g_stops_between_trials{false};

extern "C" void on_stop_signal(int signal_number) {
  if (!g_stops_between_trials.load()) {
    // Before the trial loop there is nothing to finish: the preparation's
    // only output, the cache, is written through a temporary file. Waiting
    // for the phase to end could take an hour, so end now, as the default
    // action does (only async-signal-safe calls here).
    constexpr char kMessage[] = "abliterate: stopped by signal before the trials; run the same command to resume\n";
    [[maybe_unused]] const ssize_t written = write(STDERR_FILENO, kMessage, sizeof(kMessage) - 1);
    signal(signal_number, SIG_DFL);
    raise(signal_number);
    return;
  }
  g_signal.store(signal_number);
}

}  // namespace

void install_shutdown_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  for (int signal_number : {SIGINT, SIGTERM, SIGUSR1}) sigaction(signal_number, &action, nullptr);
}

void ignore_stop_signals() {
  for (int signal_number : {SIGINT, SIGTERM, SIGUSR1}) std::signal(signal_number, SIG_IGN);
}

void stop_between_trials() { g_stops_between_trials.store(true); }

bool shutdown_requested() { return g_signal.load() != 0; }

int shutdown_signal() { return g_signal.load(); }

}  // namespace abliterate::runner
