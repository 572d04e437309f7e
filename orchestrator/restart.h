#pragma once
// Restart by replaying what the file says (flux-core's restart.c): the one
// place a new invocation turns the stored summary into the scheduler's
// starting states, and the one place a run's curves are cut back to where its
// next attempt begins.

#include <vector>

#include "common/records.h"
#include "orchestrator/sweep_setup.h"
#include "storage/store.h"

namespace sweep {

struct RestartState {
  std::vector<RunState> stored;  // each run's state in the file, as found
  double flops_done = 0;         // finished runs' FLOPs plus partial runs' up to their checkpoints
  size_t runs_done = 0;          // done or diverged
};

// Before SWMR writing starts. For every run that is not final: a run the file
// says was running (the sweep died under it) gets an attempt row saying so;
// its summary row says pending (restart_state()); its curves are cut back to
// its checkpoint (or to nothing). Done and diverged runs are left as they are.
RestartState restart_sweep(SweepStore& store, const SweepSetup& setup);

// Cuts run `index`'s curves back to its checkpoint (nothing without one) and
// returns the step the next attempt starts at.
int64_t rewind_to_checkpoint(SweepStore& store, const SweepSetup& setup, int index);

}  // namespace sweep
