#pragma once
// What the harnesses share: where an input goes when the reader under test
// takes a path, and what counts as a finding.
//
// A finding is anything but a clean return or a sweep::UserError: a crash, a
// sanitizer report, a leak, an input that runs past libFuzzer's -timeout, and
// also any other exception (std::runtime_error from a check macro, bad_alloc):
// bad input must be one UserError line with exit code 2 (STYLE.md), so an
// exception of the other tier is a misclassified error. Harnesses let those
// escape; std::terminate then aborts and libFuzzer saves the input.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>

namespace sweep::fuzz {

// A private scratch directory for this process, made once and removed at exit.
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/sweep-fuzz-XXXXXX";
    if (!::mkdtemp(pattern.data())) std::abort();
    std::atexit([] { std::filesystem::remove_all(scratch_dir()); });
    return std::filesystem::path(pattern);
  }();
  return dir;
}

// Writes the input to scratch_dir()/name (replacing the last one) and returns its path.
inline std::string write_input(const uint8_t* data, size_t size, const std::string& name) {
  const std::string path = (scratch_dir() / name).string();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out) std::abort();  // the harness's own failure, not the reader's
  return path;
}

// With SWEEP_FUZZ_VERBOSE=1 in the environment (e.g. to run a harness on one
// file), each input's outcome is printed: what was read, or the UserError.
inline bool verbose() {
  static const bool on = [] {
    const char* v = std::getenv("SWEEP_FUZZ_VERBOSE");
    return v && *v && std::string(v) != "0";
  }();
  return on;
}
inline void note_accepted(const std::string& what) {
  if (verbose()) std::fprintf(stderr, "accepted: %s\n", what.c_str());
}
inline void note_refused(const std::exception& error) {
  if (verbose()) std::fprintf(stderr, "refused (UserError): %s\n", error.what());
}

}  // namespace sweep::fuzz
