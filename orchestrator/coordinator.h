#pragma once
// The coordinator: the one place a sweep's runs are started, their records
// written and their results handled, for the one-process path (run_command.cc
// calls it from its own loop) and under mpirun (mpi_sweep.cc feeds it the
// slots' messages) alike. It owns the scheduler (state machine and policy),
// the HDF5 writes, each run's attempt history, retries and progress.
//
//   next_start()            the next run to start and the free group it goes to
//                           (the scheduler's placement), or none now
//   on_records(group, ...)  a group's train/eval records of the run it trains
//   on_result(group, ...)   how the attempt ended: the scheduler moves the run
//                           (retry, done, failed...) and frees the group, the
//                           file records it
//
// Groups (spec/slots.h) are fixed slots, or nested groups whose sizes the
// scheduler chooses per run (resources.ranks_per_run = "auto",
// orchestrator/hardware_plan.h). A retried run continues from its last
// checkpoint: next_start cuts its curves back to it first, so the file's
// curves stay contiguous.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/records.h"
#include "orchestrator/restart.h"
#include "orchestrator/scheduler.h"
#include "orchestrator/sweep_run.h"
#include "orchestrator/sweep_setup.h"
#include "storage/store.h"
#include "worker/protocol.h"

namespace sweep {

class Coordinator {
 public:
  // `groups`: where runs train (one group of one rank for one process). Takes
  // over `store` for writing (restart_sweep, then SWMR).
  Coordinator(const SweepSetup& setup, SweepStore& store, std::vector<SlotGroup> groups);

  struct Start {
    int group = -1;
    Assignment assignment;  // run, attempt, group
  };
  std::optional<Start> next_start();
  void on_records(int group, int run, const std::vector<TrainRecord>& train,
                  const std::vector<EvalRecord>& eval);
  void on_result(int group, int run, const RunResult& result);

  // Flushes the file if a second has passed since the last flush.
  void tick();
  // No more starts: runs in progress checkpoint and stop (the caller tells the slots).
  void stop() { stopping_ = true; }
  bool stopping() const { return stopping_; }
  int running_on(int group) const { return group_run_[size_t(group)]; }  // -1 when idle
  int running() const { return scheduler_.count(RunState::kRunning); }
  // Nothing runs and nothing will start (all done, or stopping): the ranks may exit.
  bool done() const { return running() == 0 && (stopping_ || scheduler_.finished()); }
  const std::vector<SlotGroup>& groups() const { return scheduler_.groups(); }
  double busy_rank_seconds() const { return busy_rank_seconds_; }  // summed over ranks
  const RestartState& restart() const { return restart_; }

  // Ends the sweep's display and prints the closing table (or JSON): exit
  // code 0, or 1 when a run is left failed.
  int finish(bool json);

 private:
  void update_progress();
  // The recipe a tuned variant's grid run trains with: the one stored for it,
  // else the variant's choice (made now from its tune runs if not yet);
  // -1 for every other run.
  int recipe_for(int run);

  using Clock = std::chrono::steady_clock;
  const SweepSetup& setup_;
  SweepStore& store_;
  RestartState restart_;
  Scheduler scheduler_;
  std::vector<int> group_run_;                  // run in progress per group, -1 idle
  std::vector<double> group_flops_;             // FLOPs so far of that run
  std::vector<Clock::time_point> group_since_;  // when it started
  double busy_rank_seconds_ = 0;                // rank-seconds spent on runs
  std::vector<int64_t> attempts_;              // ended attempts per run, over the file's life
  std::vector<bool> rewind_;                   // curves to cut back before the next attempt
  std::vector<int> variant_recipe_;            // each tuned variant's chosen candidate, -1 not yet
  Progress progress_;
  size_t runs_done_;
  double flops_done_;
  bool stopping_ = false;
  std::string last_detail_ = "waiting for the first records";
  Clock::time_point last_flush_ = Clock::now();
};

}  // namespace sweep
