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

const char* to_string(RunOutcome outcome) {
  switch (outcome) {
    case RunOutcome::kDone:
      return "done";
    case RunOutcome::kDiverged:
      return "diverged";
    case RunOutcome::kFailed:
      return "failed";
    case RunOutcome::kStopped:
      return "stopped";
  }
  return "?";
}

RunOutcome parse_run_outcome(const std::string& name) {
  for (RunOutcome o :
       {RunOutcome::kDone, RunOutcome::kDiverged, RunOutcome::kFailed, RunOutcome::kStopped}) {
    if (name == to_string(o)) return o;
  }
  throw std::runtime_error("unknown run outcome '" + name + "'");
}

bool is_final(RunState state) { return state == RunState::kDone || state == RunState::kDiverged; }

RunState restart_state(RunState stored) { return is_final(stored) ? stored : RunState::kPending; }

}  // namespace sweep
