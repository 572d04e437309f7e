#pragma once
// Fault injection, to test failure paths through the real code and to try a
// cluster's behaviour (docs/training.md):
//
//   SWEEP_FAULT="run=<run_id>,step=<k>[,rank=<r>][,kind=throw|nan|exit][,attempt=<a>]"
//
// makes rank r (default 0) of the slot that trains <run_id> fail in the
// forward/backward of optimizer step k: `throw` raises an exception (the run
// fails on every rank of the slot, and is retried), `nan` makes the loss NaN
// (the run diverges), `exit` ends the process (under mpirun the job ends; a
// rerun resumes). With attempt=a it fires only on the run's a-th attempt
// (counted over the file's life), so a retry can be seen to succeed.

#include <cstdint>
#include <optional>
#include <string>

#include "model/train.h"

namespace sweep {

struct FaultSpec {
  std::string run_id;
  int64_t step = 0;
  int rank = 0;
  FaultInjection::Kind kind = FaultInjection::Kind::kThrow;
  int64_t attempt = 0;  // 0: every attempt
};

// Parses `text` (the variable's value). Throws UserError naming SWEEP_FAULT.
FaultSpec parse_fault(const std::string& text);
// SWEEP_FAULT from the environment, or none.
std::optional<FaultSpec> fault_from_environment();

// What `spec` makes rank `rank` do on attempt `attempt` of `run_id`.
FaultInjection fault_for(const std::optional<FaultSpec>& spec, const std::string& run_id, int rank,
                         int64_t attempt);

}  // namespace sweep
