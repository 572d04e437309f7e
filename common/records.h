#pragma once
// The records a run produces: small plain structs that the training loop
// emits, workers stream to rank 0, and storage appends to a run's curves.
// FLOPs are cumulative training FLOPs in the job's convention; losses are mean
// cross-entropy in nats per token; wall_time is seconds since the run started,
// summed over resumes.

#include <cstdint>
#include <string>

namespace sweep {

// A run's state: the scheduler's state machine (orchestrator/scheduler.h)
// moves it, /summary stores it by name.
enum class RunState { kPending, kRunning, kDone, kDiverged, kFailed };
const char* to_string(RunState state);
RunState parse_run_state(const std::string& name);  // throws std::runtime_error

// One row of a run's training curve.
struct TrainRecord {
  int64_t step = 0, tokens = 0;
  double flops = 0, loss = 0, lr = 0, grad_norm = 0, wall_time = 0;
};

// One evaluation on the fixed validation set.
struct EvalRecord {
  int64_t step = 0, tokens = 0;
  double flops = 0, loss = 0, wall_time = 0;
};

}  // namespace sweep
