#include "common/signals.h"

#include <atomic>
#include <csignal>
#include <initializer_list>

namespace sweep {
namespace {
std::atomic<int> g_signal{0};

extern "C" void on_stop_signal(int signal) {
  if (signal == SIGINT && g_signal.load() != 0) {
    std::signal(SIGINT, SIG_DFL);
    std::raise(SIGINT);
    return;
  }
  g_signal.store(signal);
}
}  // namespace

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  for (int signal : {SIGINT, SIGTERM, SIGUSR2}) sigaction(signal, &action, nullptr);
}

bool stop_requested() { return g_signal.load() != 0; }
int stop_signal() { return g_signal.load(); }

}  // namespace sweep
