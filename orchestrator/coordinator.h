#pragma once
// The coordinator: the one place a sweep's runs are started, their records
// written and their results handled, for the one-process path (run_command.cc
// calls it from its own loop) and under mpirun (mpi_sweep.cc feeds it the
// slots' messages) alike. It owns the scheduler (state machine and policy),
// the HDF5 writes, each run's attempt history, retries and progress.
//
//   on_start(slot)          an idle slot wants work: the next run for it, or none
//   on_records(slot, ...)   a slot's train/eval records of the run it trains
//   on_result(slot, ...)    how the attempt ended: the scheduler moves the run
//                           (retry, done, failed...), the file records it
//
// A retried run continues from its last checkpoint: on_start cuts its curves
// back to it first, so the file's curves stay contiguous.

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
  // `slot_sizes[s]`: ranks of slot s (one slot of 1 for one process). Takes
  // over `store` for writing (restart_sweep, then SWMR).
  Coordinator(const SweepSetup& setup, SweepStore& store, std::vector<int> slot_sizes);

  std::optional<Assignment> on_start(int slot);
  void on_records(int slot, int run, const std::vector<TrainRecord>& train,
                  const std::vector<EvalRecord>& eval);
  void on_result(int slot, int run, const RunResult& result);

  // Flushes the file if a second has passed since the last flush.
  void tick();
  // No more starts: runs in progress checkpoint and stop (the caller tells the slots).
  void stop() { stopping_ = true; }
  bool stopping() const { return stopping_; }
  int running_on(int slot) const { return slot_run_[size_t(slot)]; }  // -1 when idle
  double busy_seconds() const;  // summed over slots
  const RestartState& restart() const { return restart_; }

  // Ends the sweep's display and prints the closing table (or JSON): exit
  // code 0, or 1 when a run is left failed.
  int finish(bool json);

 private:
  void update_progress();

  using Clock = std::chrono::steady_clock;
  const SweepSetup& setup_;
  SweepStore& store_;
  RestartState restart_;
  Scheduler scheduler_;
  std::vector<int> slot_sizes_;
  std::vector<int> slot_run_;                  // run in progress per slot, -1 idle
  std::vector<double> slot_flops_;             // FLOPs so far of that run
  std::vector<Clock::time_point> slot_since_;  // when it started
  std::vector<double> slot_busy_;              // seconds each slot spent on runs
  std::vector<int64_t> attempts_;              // ended attempts per run, over the file's life
  std::vector<bool> rewind_;                   // curves to cut back before the next attempt
  Progress progress_;
  size_t runs_done_;
  double flops_done_;
  bool stopping_ = false;
  std::string last_detail_ = "waiting for the first records";
  Clock::time_point last_flush_ = Clock::now();
};

}  // namespace sweep
