#include "common/records.h"

#include <stdexcept>

namespace sweep {

const char* to_string(RunState state) {
  switch (state) {
    case RunState::kPending:
      return "pending";
    case RunState::kRunning:
      return "running";
    case RunState::kDone:
      return "done";
    case RunState::kDiverged:
      return "diverged";
    case RunState::kFailed:
      return "failed";
  }
  return "?";
}

RunState parse_run_state(const std::string& name) {
  for (RunState s : {RunState::kPending, RunState::kRunning, RunState::kDone, RunState::kDiverged,
                     RunState::kFailed}) {
    if (name == to_string(s)) return s;
  }
  throw std::runtime_error("unknown run status '" + name + "'");
}

}  // namespace sweep
