#pragma once
// The schedule simulator: the scheduler's own policy (orchestrator/scheduler.h,
// the code rank 0 runs) driven by a discrete-event simulation instead of MPI,
// on a cluster of any size. bench/schedule and `sweepd plan --gpu` use it.
//
// A cluster of G GPUs is G worker ranks (ids 1..G; rank 0, the coordinator,
// needs no GPU) on nodes of `gpus_per_node`; its groups come from the job's
// resources as under mpirun (spec/slots.h): fixed node-local slots, or nested
// groups for ranks_per_run = "auto". Each run takes its modelled time on the
// group it gets (orchestrator/hardware_plan.h), times an optional noise factor.

#include <functional>
#include <vector>

#include "orchestrator/hardware_plan.h"
#include "orchestrator/scheduler.h"

namespace sweep {

struct SimulatedRun {
  int group = -1;  // where it trained
  double start = 0, end = 0;  // seconds from the sweep's start
};

struct ScheduleResult {
  double makespan = 0;           // seconds
  double busy_rank_seconds = 0;  // summed over ranks: time spent training
  std::vector<SimulatedRun> runs;
};

// Drives `scheduler` (every run pending, groups set) until it is finished;
// run i on group g takes seconds(i, g).
ScheduleResult simulate_schedule(Scheduler& scheduler,
                                 const std::function<double(int run, const SlotGroup&)>& seconds);

// The "auto" policy's group size per run: two-phase moldable scheduling
// (Turek, Wolf and Yu 1992). For a target time T each run gets the smallest
// group on which its modelled time is <= T (or, when none is, the one where
// it is shortest). Of the distinct choices over every T, the kCandidates with
// the lowest bound max(rank-seconds / ranks, longest run) are simulated with
// the scheduler's own placement, and of those within 0.2% of the shortest
// makespan the one with the fewest GPU-seconds is taken; then runs of
// similar work, smallest first, shrink to the fewest ranks that keep that
// makespan (so small runs fill single GPUs). `todo[i]` false leaves run i out
// (done already). Each size is one
// of the groups'.
inline constexpr int kCandidates = 256;
std::vector<int> choose_run_ranks(const RunCostModel& cost, const std::vector<SlotGroup>& groups,
                                  const std::vector<int>& ranks_needed,
                                  const std::vector<bool>& todo = {});

// The lowest bound max(rank-seconds / ranks, longest run) over every choice
// of group sizes above: what no schedule on these groups beats under the
// efficiency model (sizes are allowed to grow only where time falls).
double modelled_bound(const RunCostModel& cost, const std::vector<SlotGroup>& groups,
                      const std::vector<int>& ranks_needed, const std::vector<double>& noise = {});

// G workers (ranks 1..G) on nodes of `per_node`, the last node possibly short.
NodeRanks cluster_nodes(int gpus, int per_node);

// A whole sweep on a simulated cluster.
struct SweepSimulation {
  bool auto_slots = false;
  std::vector<SlotGroup> groups;
  int gpus = 0, idle_ranks = 0;
  std::vector<int> ranks_needed;  // per run (0: fits no group's memory)
  std::vector<int> run_ranks;     // per run: the "auto" size; empty for fixed slots
  ScheduleResult schedule;
  // Lower bounds (seconds): every run's work at peak · MFU over all GPUs
  // (ideal: no communication, no thin micro-batches); the modelled bound on
  // these groups (modelled_bound); and the longest run on the group of the
  // layout where it is fastest.
  double work_bound_ideal = 0;
  double work_bound_modelled = 0;
  double longest_run = 0;
};

// `noise[i]` multiplies run i's time (empty: 1); the policy sizes groups
// without it, as rank 0 would, from the model alone. `memory_per_rank` > 0
// makes runs need the ranks their memory takes (runs_ranks_needed).
// `run_ranks`: the "auto" sizes when already chosen (they depend only on the
// job, the model and the groups; empty: choose_run_ranks).
SweepSimulation simulate_sweep(const JobSpec& job, const Grid& grid, const RunCostModel& cost,
                               int gpus, int gpus_per_node, bool auto_slots, double memory_per_rank,
                               const std::vector<double>& noise = {},
                               const std::vector<int>& run_ranks = {});

}  // namespace sweep
