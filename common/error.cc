#include "common/error.h"

#include <unistd.h>

#include <cstring>

namespace sweep {

std::string located_message(const char* file, int line, const std::string& message) {
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  const char* base = std::strrchr(file, '/');
  return std::string(host) + ": " + (base ? base + 1 : file) + ":" + std::to_string(line) + ": " +
         message;
}

}  // namespace sweep
