#include "common/log.h"

#include <cstdio>
#include <ctime>
#include <mutex>
#include <string>

namespace sweep {
namespace {
int g_rank = 0;
int g_world_size = 1;
LogLevel g_level = LogLevel::kInfo;
std::mutex g_mutex;
std::string g_live_line;
}  // namespace

void set_live_line(const std::string& text) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (text.empty() && g_live_line.empty()) return;
  g_live_line = text;
  std::fprintf(stderr, "\r\033[K%s", text.c_str());
  std::fflush(stderr);
}

void set_log_rank(int rank, int world_size) {
  g_rank = rank;
  g_world_size = world_size;
}

int log_rank() { return g_world_size > 1 ? g_rank : -1; }

void set_log_level(LogLevel level) { g_level = level; }

void log(LogLevel level, const std::string& message) {
  if (level < g_level) return;
  static const char* kNames[] = {"debug", "info", "warning", "error"};
  std::time_t now = std::time(nullptr);
  char stamp[16];
  std::strftime(stamp, sizeof(stamp), "%H:%M:%S", std::localtime(&now));
  std::lock_guard<std::mutex> lock(g_mutex);
  if (!g_live_line.empty()) std::fprintf(stderr, "\r\033[K");
  if (g_world_size > 1) {
    std::fprintf(stderr, "[%s sweepd r%d] %s: %s\n", stamp, g_rank, kNames[int(level)],
                 message.c_str());
  } else {
    std::fprintf(stderr, "[%s sweepd] %s: %s\n", stamp, kNames[int(level)], message.c_str());
  }
  if (!g_live_line.empty()) std::fprintf(stderr, "%s", g_live_line.c_str());
  std::fflush(stderr);
}

}  // namespace sweep
