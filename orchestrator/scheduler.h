#pragma once
// The scheduler: every run's life as one explicit state machine (the states
// and the diagram are in common/records.h), the one function that moves a run
// on an attempt's outcome, and the policy that places runs on groups of
// ranks. Pure C++: the coordinator drives it with real results, the schedule
// simulator (orchestrator/schedule_sim.h) with simulated time.
//
// Restart: the constructor takes the states stored in the file and applies
// restart_state() (done and diverged stay; everything else is pending again).
// Retries: a failed attempt puts the run back to pending while it has failed
// fewer than max_attempts times in this invocation; then it is failed, and the
// other runs go on. A stopped attempt (checkpointed on a stop request) is
// pending again and does not count.
//
// Placement: runs train on groups of ranks (spec/slots.h); a group is free
// when none of its ranks trains, and a rank trains one run at a time. next()
// looks at the pending runs longest first ("LPT": by expected time on their
// group when set_groups has it, else by FLOPs; runs that others wait on,
// set_prerequisites, before the rest):
//  * fixed slots (disjoint groups): the run goes to the largest free group
//    with at least the ranks it needs (resources.large_runs);
//  * sized runs (set_groups with run_ranks, the "auto" policy): the run goes
//    to a free group of exactly its size, the one whose enclosing group is
//    busiest (buddy-style best fit, which keeps large groups whole); a run
//    whose size has no free group waits while smaller runs go on.
// Without set_groups there is one group of one rank (the one-process sweep).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/records.h"
#include "spec/slots.h"

namespace sweep {

struct Placement {
  int run = -1;
  int group = -1;
};

class Scheduler {
 public:
  // `flops[i]` is run i's work; `ranks_needed[i]` the fewest ranks it may use
  // (empty: 1 each); `stored[i]` its state in the file.
  Scheduler(std::vector<double> flops, const std::vector<RunState>& stored,
            std::vector<int> ranks_needed = {}, int max_attempts = 2);

  // Where runs may train. `run_ranks[i]`: the group size run i gets (each
  // one of the groups' sizes, >= ranks_needed[i]); empty: fixed slots.
  // `run_seconds[i]`: run i's expected time on its group, to look at the
  // longest first (empty: the most FLOPs first). Call before the first start().
  void set_groups(std::vector<SlotGroup> groups, std::vector<int> run_ranks = {},
                  const std::vector<double>& run_seconds = {});

  // Run i starts only when every run in `after[i]` has ended in this
  // invocation (done, diverged or failed): a tuned variant's grid waits for
  // its tune runs. Runs that others wait on are looked at first. Empty lists:
  // no wait. Call after set_groups and before the first start().
  void set_prerequisites(std::vector<std::vector<int>> after);

  // The pending run to start now and its free group, or none.
  std::optional<Placement> next() const;

  // pending -> running on `group` (free). Throws std::logic_error otherwise.
  void start(int run, int group = 0);
  // running -> the state `outcome` leads to (see above), which it returns;
  // frees its group. Throws std::logic_error when the run is not running.
  RunState finish(int run, RunOutcome outcome);

  RunState state(int run) const { return states_[size_t(run)]; }
  int failures(int run) const { return failures_[size_t(run)]; }  // in this invocation
  int group_of(int run) const { return run_group_[size_t(run)]; }  // -1 unless running
  int ranks_needed(int run) const { return ranks_needed_[size_t(run)]; }
  const std::vector<SlotGroup>& groups() const { return groups_; }
  bool group_free(int group) const { return busy_[size_t(group)] == 0; }
  int count(RunState state) const;
  bool finished() const;  // nothing pending or running
  size_t size() const { return states_.size(); }

 private:
  void mark(int group, int delta);
  bool ready(int run) const;  // its prerequisites have ended

  std::vector<double> flops_;
  std::vector<RunState> states_;
  std::vector<int> ranks_needed_;
  std::vector<int> failures_;
  int max_attempts_;
  std::vector<int> by_flops_;  // run indices, longest first (most FLOPs, or run_seconds),
                              // after the runs others wait on
  std::vector<std::vector<int>> after_;  // prerequisites per run (empty: none)

  std::vector<SlotGroup> groups_;
  std::vector<int> run_ranks_;                 // empty: fixed slots
  std::vector<int> run_group_;                 // group of each running run, else -1
  std::vector<int> busy_;                      // busy ranks per group
  std::vector<int> parent_;                    // smallest group strictly containing it, or -1
  std::vector<std::vector<int>> rank_groups_;  // groups of each rank id
  std::map<int, int> free_of_size_;            // free groups by size
  std::map<int, std::vector<int>> by_size_;    // groups by size
};

}  // namespace sweep
