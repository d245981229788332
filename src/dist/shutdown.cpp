#include "abliterate/dist/shutdown.hpp"

#include <atomic>
#include <csignal>

namespace abliterate::dist {
namespace {

std::atomic<int> g_signal{0};

extern "C" void on_stop_signal(int signal_number) { g_signal.store(signal_number); }

}  // namespace

void install_shutdown_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  for (int signal_number : {SIGINT, SIGTERM, SIGUSR1}) sigaction(signal_number, &action, nullptr);
}

bool shutdown_requested() { return g_signal.load() != 0; }

int shutdown_signal() { return g_signal.load(); }

}  // namespace abliterate::dist
