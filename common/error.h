#pragma once
// Errors and check macros shared by every module.
//
// Two tiers (see STYLE.md):
//  * UserError: the user's input is wrong (bad job file, missing corpus,
//    unreadable HDF5). main() prints what() as one line and exits with
//    kExitUserError; nothing is written.
//  * FatalError: a fault of the program or the machine (a check macro of
//    common/check.h: a broken invariant, a failing MPI/NCCL/CUDA/HDF5 call);
//    it carries host, rank and file:line.
// A failure inside one training run is neither: the worker captures it and the
// sweep records it and goes on.

#include <stdexcept>
#include <string>

namespace sweep {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUserError = 2;

class UserError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class FatalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "host rank 3: file.cc:42: message" (the rank once set_log_rank() knows it)
// — used by the check macros of common/check.h.
std::string located_message(const char* file, int line, const std::string& message);

}  // namespace sweep
