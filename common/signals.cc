#include "common/signals.h"

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <initializer_list>
#include <regex>

#include "common/error.h"

namespace sweep {
namespace {
std::atomic<int> g_signal{0};
using Clock = std::chrono::steady_clock;
Clock::time_point g_deadline = Clock::time_point::max();

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

bool stop_requested() { return g_signal.load() != 0 || Clock::now() >= g_deadline; }

std::string stop_reason() {
  if (g_signal.load() != 0) return "signal " + std::to_string(g_signal.load());
  if (Clock::now() >= g_deadline) return "deadline";
  return "";
}

void set_deadline(double seconds) {
  g_deadline = Clock::now() +
               std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

double parse_deadline(const std::string& text) {
  std::smatch m;
  if (std::regex_match(text, m, std::regex(R"((?:(\d+):)?(\d+):(\d+))"))) {
    return (m[1].matched ? std::stod(m[1]) * 3600 : 0) + std::stod(m[2]) * 60 + std::stod(m[3]);
  }
  if (std::regex_match(text, m, std::regex(R"((\d+(?:\.\d+)?)([smhd]))"))) {
    const double unit = m[2] == "s" ? 1 : m[2] == "m" ? 60 : m[2] == "h" ? 3600 : 86400;
    return std::stod(m[1]) * unit;
  }
  std::tm t{};
  int second = 0;
  if (std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%d", &t.tm_year, &t.tm_mon, &t.tm_mday, &t.tm_hour,
                  &t.tm_min, &second) >= 5) {
    t.tm_year -= 1900;
    t.tm_mon -= 1;
    t.tm_sec = second;
    t.tm_isdst = -1;
    const double seconds = std::difftime(std::mktime(&t), std::time(nullptr));
    if (seconds <= 0) throw UserError("--deadline " + text + ": already past");
    return seconds;
  }
  throw UserError(
      "--deadline " + text +
      ": use a walltime from now (23:50:00, 90m, 2h) or a local time (2026-11-28T06:00)");
}

}  // namespace sweep
