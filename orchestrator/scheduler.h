#pragma once
// The scheduler: every run's life as one explicit state machine, and the
// policy that hands runs to idle slots. Pure C++: the MPI coordinator drives it
// with real messages, bench/schedule with simulated time.
//
// States (RunState, common/records.h) and the one function that moves them:
//
//   pending --start--> running --finish--> done
//                         |---diverge--> diverged
//                         |---fail-----> failed
//                         '---stop-----> pending     (checkpointed; resumes later)
//
// Any other transition is a bug and throws. done and diverged are final;
// failed is final for this sweep (a rerun of the command retries it).
//
// Policy: dynamic pull. An idle slot asks; it gets the pending run with the
// most FLOPs among those that fit it (largest-first, "LPT"), which keeps the
// makespan near max(total work / capacity, longest run).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/records.h"

namespace sweep {

enum class RunEvent { kStart, kFinish, kDiverge, kFail, kStop };

// How a node's `workers` ranks are cut into slots: `sizes` taken in turn,
// round and round, skipping sizes that no longer fit. Returns the slots'
// sizes in rank order; the ranks they leave are idle.
std::vector<int> cut_into_slots(int workers, const std::vector<int64_t>& sizes);
const char* to_string(RunEvent event);

class Scheduler {
 public:
  // `flops[i]` is run i's work; `ranks_needed[i]` the fewest ranks it may use
  // (empty: 1 each). `states` are the runs' states at start (resume).
  Scheduler(std::vector<double> flops, std::vector<RunState> states,
            std::vector<int> ranks_needed = {});

  // The one transition function. Throws std::logic_error when `event` is not
  // allowed in the run's state.
  void transition(int run, RunEvent event);

  // The pending run for an idle slot of `slot_ranks` ranks, or none.
  std::optional<int> next_for(int slot_ranks) const;

  RunState state(int run) const { return states_[size_t(run)]; }
  int count(RunState state) const;
  bool finished() const;  // nothing pending or running
  size_t size() const { return states_.size(); }

 private:
  std::vector<double> flops_;
  std::vector<RunState> states_;
  std::vector<int> ranks_needed_;
  std::vector<int> by_flops_;  // run indices, most FLOPs first
};

}  // namespace sweep
