#pragma once
// Pieces of a sweep's display shared by the coordinator and the commands:
// progress, the closing results.

#include <chrono>
#include <string>

#include "orchestrator/commands.h"
#include "orchestrator/sweep_setup.h"
#include "spec/grid.h"
#include "storage/store.h"

namespace sweep {

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
