#pragma once
// Pieces of a sweep shared by the one-process path (run_command.cc) and the
// MPI coordinator (mpi_sweep.cc): resuming the store, progress display, the
// closing results.

#include <chrono>
#include <string>

#include "orchestrator/commands.h"
#include "orchestrator/grid.h"
#include "orchestrator/scheduler.h"
#include "orchestrator/sweep_setup.h"
#include "storage/store.h"
#include "worker/worker.h"

namespace sweep {

struct ResumeState {
  double flops_done = 0;  // finished runs' FLOPs plus partial runs' up to their checkpoints
  size_t runs_done = 0;   // done or diverged
};

// Before SWMR writing starts: cuts every unfinished run's curves back to its
// checkpoint (or to nothing), and counts what is already done.
ResumeState resume_store(SweepStore& store, const SweepSetup& setup);

bool is_final(RunState state);  // done or diverged: never trained again

RunState state_after(Outcome outcome);
RunEvent event_of(Outcome outcome);                   // the scheduler's transition for it
RunProgress progress_of(const WorkerResult& result);  // the summary row for it

// The sweep under mpirun (mpi_sweep.cc); run_command() calls it when started
// with several ranks.
int run_mpi_sweep(const RunOptions& options);

// Runs done / total, FLOPs done / total, elapsed, ETA, last loss: a live line
// on a terminal, a log line every 30 s otherwise.
class Progress {
 public:
  Progress(size_t runs, double total_flops, double flops_at_start);
  void update(size_t runs_done, double flops_done, const std::string& detail);
  void finish();

 private:
  using Clock = std::chrono::steady_clock;
  size_t runs_;
  double total_flops_, flops_at_start_;
  bool tty_;
  Clock::time_point start_, last_draw_;
};

// The closing table (or JSON document) of final validation losses.
void print_results(const Grid& grid, const SweepStore& store, const SweepSetup& setup, bool json);

}  // namespace sweep
