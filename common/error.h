#pragma once
// Errors and check macros shared by every module.
//
// Two tiers (see STYLE.md):
//  * UserError: the user's input is wrong (bad job file, missing corpus,
//    unreadable HDF5). main() prints what() as one line and exits with
//    kExitUserError; nothing is written.
//  * everything else (std::runtime_error from SWEEP_CHECK, library failures) is
//    a fault of the program or the machine and carries file:line.
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

// "file.cc:42: message" — used by the check macros below.
std::string located_message(const char* file, int line, const std::string& message);

}  // namespace sweep

// Throws std::runtime_error naming file and line when `cond` is false.
#define SWEEP_CHECK(cond, message)                                                        \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      throw std::runtime_error(::sweep::located_message(                                  \
          __FILE__, __LINE__, std::string("check failed: ") + #cond + ": " + (message))); \
    }                                                                                     \
  } while (0)
