#include "common/error.h"

#include <unistd.h>

#include <cstring>

#include "common/log.h"

namespace sweep {

std::string located_message(const char* file, int line, const std::string& message) {
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  const char* base = std::strrchr(file, '/');
  const int rank = log_rank();
  return std::string(host) + (rank >= 0 ? " rank " + std::to_string(rank) : std::string()) + ": " +
         (base ? base + 1 : file) + ":" + std::to_string(line) + ": " + message;
}

}  // namespace sweep
