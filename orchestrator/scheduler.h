#pragma once
// The scheduler: every run's life as one explicit state machine (the states
// and the diagram are in common/records.h), the one function that moves a run
// on an attempt's outcome, and the policy that hands runs to idle slots. Pure
// C++: the coordinator drives it with real results, bench/schedule with
// simulated time.
//
// Restart: the constructor takes the states stored in the file and applies
// restart_state() (done and diverged stay; everything else is pending again).
// Retries: a failed attempt puts the run back to pending while it has failed
// fewer than max_attempts times in this invocation; then it is failed, and the
// other runs go on. A stopped attempt (checkpointed on a stop request) is
// pending again and does not count.
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

class Scheduler {
 public:
  // `flops[i]` is run i's work; `ranks_needed[i]` the fewest ranks it may use
  // (empty: 1 each); `stored[i]` its state in the file.
  Scheduler(std::vector<double> flops, const std::vector<RunState>& stored,
            std::vector<int> ranks_needed = {}, int max_attempts = 2);

  // pending -> running. Throws std::logic_error in any other state.
  void start(int run);
  // running -> the state `outcome` leads to (see above), which it returns.
  // Throws std::logic_error when the run is not running.
  RunState finish(int run, RunOutcome outcome);

  // The pending run for an idle slot of `slot_ranks` ranks, or none.
  std::optional<int> next_for(int slot_ranks) const;

  RunState state(int run) const { return states_[size_t(run)]; }
  int failures(int run) const { return failures_[size_t(run)]; }  // in this invocation
  int count(RunState state) const;
  bool finished() const;  // nothing pending or running
  size_t size() const { return states_.size(); }

 private:
  std::vector<double> flops_;
  std::vector<RunState> states_;
  std::vector<int> ranks_needed_;
  std::vector<int> failures_;
  int max_attempts_;
  std::vector<int> by_flops_;  // run indices, most FLOPs first
};

}  // namespace sweep
