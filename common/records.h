#pragma once
// What a run is and produces, as every module sees it: its state in the
// sweep, how one attempt at it ended, and the records its training emits
// (small plain structs that the training loop emits, slots stream to rank 0,
// and storage appends to the run's curves). FLOPs are cumulative training
// FLOPs in the job's convention; losses are mean cross-entropy in nats per
// token; wall_time is seconds since the run started, summed over resumes.
//
// A run's life (the scheduler, orchestrator/scheduler.h, performs each move;
// /summary stores the state by name):
//
//   pending --start--> running --done------> done        (final)
//                          |----diverged---> diverged    (final)
//                          |----failed-----> pending     (attempts left in this invocation)
//                          |                 failed      (none left: the others finish, exit 1)
//                          '----stopped----> pending     (checkpointed; resumes later)
//
// restart_state() is what a new invocation makes of a stored state: done and
// diverged stay; running (the sweep died), failed and pending are pending
// again, each with a fresh set of attempts, continuing from its checkpoint.

#include <cmath>
#include <cstdint>
#include <string>

namespace sweep {

enum class RunState : int32_t { kPending, kRunning, kDone, kDiverged, kFailed };
const char* to_string(RunState state);
RunState parse_run_state(const std::string& name);  // throws std::runtime_error

// How one attempt at a run ended: the one outcome type from the training loop
// through the slot, the MPI message, the scheduler and the file.
enum class RunOutcome : int32_t { kDone, kDiverged, kFailed, kStopped };
const char* to_string(RunOutcome outcome);
RunOutcome parse_run_outcome(const std::string& name);  // throws std::runtime_error

// The state a stored run restarts in (see above).
RunState restart_state(RunState stored);
bool is_final(RunState state);  // done or diverged: never trained again

// One attempt's end, as the slot reports it: the plain part (sent as bytes
// between ranks, worker/protocol.h) and the reason.
struct RunEnd {
  RunOutcome outcome = RunOutcome::kDone;
  int64_t start_step = 0;  // the checkpoint's step this attempt began at (0: from scratch)
  int64_t steps_done = 0;
  double final_eval_loss = NAN;
  double final_train_loss = NAN;
  double wall_time = 0;          // seconds, summed over resumes
  double tokens_per_second = 0;  // this attempt's training throughput
};
struct RunResult : RunEnd {
  std::string reason;  // why diverged, failed or stopped; "" when done
};

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
