#pragma once
// A sweep on named hardware: each run's modelled time on a group of k GPUs
// (model/hardware.h's efficiency model), the fewest ranks a run needs
// (resources.large_runs and its memory), and the "auto" policy's choice of
// each run's group size. Read by the coordinator (ranks_per_run = "auto"), the
// schedule simulator and `sweepd plan --gpu`.
//
// The "auto" policy's group sizes are chosen in orchestrator/schedule_sim.h
// (choose_run_ranks), with the simulator.

#include <string>
#include <vector>

#include "model/hardware.h"
#include "spec/grid.h"
#include "spec/job_spec.h"
#include "spec/slots.h"

namespace sweep {

// The MFU the "auto" policy assumes when it sizes groups under mpirun (only
// the ratio of compute to communication matters there).
inline constexpr double kDefaultMfu = 0.4;

struct RunCostModel {
  Hardware gpu;
  double mfu = 0.4;
  std::vector<StepWork> work;  // per run: one optimizer step
  std::vector<int64_t> steps;  // per run

  // Modelled seconds of run `run` on `ranks` ranks spanning `nodes` nodes.
  double seconds(int run, int ranks, int nodes) const;
  // The same with every rank at peak · MFU (no communication, no thin micro-batches).
  double ideal_seconds(int run, int ranks) const;
};

// Step FLOPs as the Chinchilla count (every matmul, attention included: the
// closest of the conventions to what a step computes) times the batch.
RunCostModel run_cost_model(const JobSpec& job, const Grid& grid, const Hardware& gpu, double mfu);

// The layout the job asks for; `nested`: ranks_per_run = "auto" (or what-if).
LayoutRequest layout_request(const JobSpec& job, bool nested);

// The hardware the job names (resources.gpu).
const Hardware& job_hardware(const JobSpec& job);

// The smallest of `sizes` (ascending) on which one rank holds `run` in
// `memory_per_rank` bytes under the job's sharding (spec/memory_plan.h's
// choose_sharding, as the worker chooses it); 0 when none does.
int fewest_ranks_that_fit(const JobSpec& job, const RunSpec& run, double memory_per_rank,
                          const std::vector<int>& sizes, bool cuda);

// Per run, the fewest ranks it may train on: resources.large_runs, and with
// memory_per_rank > 0 what fewest_ranks_that_fit() says among the groups'
// sizes (0 where nothing fits).
std::vector<int> runs_ranks_needed(const JobSpec& job, const Grid& grid,
                                   const std::vector<SlotGroup>& groups, double memory_per_rank,
                                   bool cuda);

// Each run's modelled seconds on a group of its size in `run_ranks`.
std::vector<double> run_ranks_seconds(const RunCostModel& cost,
                                      const std::vector<SlotGroup>& groups,
                                      const std::vector<int>& run_ranks);

// Distinct group sizes (ascending) and the nodes a group of each size spans.
std::vector<std::pair<int, int>> group_sizes(const std::vector<SlotGroup>& groups);

}  // namespace sweep
