#pragma once
// Runs the sweepd binary as a user would (SWEEPD_BINARY, set by CMake) and
// collects its exit code and output; for the command-line tests.

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <string>

namespace sweep::testing_helpers {

struct CliResult {
  int exit_code = -1;
  std::string out;  // stdout, and stderr too unless left out
};

// sweepd with `args`, run in `dir` ("" = the test's working directory).
inline CliResult run_sweepd_in(const std::string& dir, const std::string& args,
                               bool with_stderr = true) {
  const std::string command = (dir.empty() ? "" : "cd '" + dir + "' && ") +
                              std::string(SWEEPD_BINARY) + " " + args +
                              (with_stderr ? " 2>&1" : " 2>/dev/null");
  CliResult result;
  FILE* pipe = popen(command.c_str(), "r");
  std::array<char, 4096> buffer{};
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    result.out.append(buffer.data(), n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

inline CliResult run_sweepd(const std::string& args, bool with_stderr = true) {
  return run_sweepd_in("", args, with_stderr);
}

// Writes `text` to `name` in the test's temporary directory; returns the path.
inline std::string write_temp(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << text;
  return path;
}

}  // namespace sweep::testing_helpers
