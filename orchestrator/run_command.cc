// `sweepd JOB.toml`: the whole study. Without mpirun this process is the
// coordinator and its only slot: it asks the coordinator for a run, trains it
// through the same worker code a slot uses, and reports the result, until
// nothing is left. Under mpirun, rank 0 coordinates and slots of ranks train
// (mpi_sweep.cc). Either way the HDF5 file is written as the sweep goes, and
// rerunning the same command resumes (orchestrator/restart.h).

#include <cstdlib>

#include "common/error.h"
#include "common/format.h"
#include "common/log.h"
#include "common/signals.h"
#include "orchestrator/commands.h"
#include "orchestrator/coordinator.h"
#include "orchestrator/fit_stage.h"
#include "orchestrator/sweep_run.h"
#include "worker/fault.h"
#include "worker/worker.h"

namespace sweep {

namespace {

// True when started by mpirun/srun with more than one process.
bool launched_with_several_ranks() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"}) {
    if (const char* value = std::getenv(name)) return std::atoi(value) > 1;
  }
  return false;
}

}  // namespace

int run_command(const RunOptions& options) {
  if (launched_with_several_ranks()) return run_mpi_sweep(options);
  install_stop_handlers();
  const std::optional<FaultSpec> fault = fault_from_environment();
  SweepSetup setup = prepare_sweep(options.job_path, options.output, /*verbose=*/true);
  const JobSpec& job = setup.job;
  SweepStore store = SweepStore::open(setup.output, setup.info, setup.runs);
  const std::string device = choose_device(job.resources.device, 0);
  const int threads = choose_threads(job.resources.threads_per_rank, 1);
  int exit_code = kExitOk;
  {
    SlotGroup self;  // this process, as the one group of one rank
    self.ranks = {0};
    Coordinator coordinator(setup, store, {self});
    log_info((store.created() ? "writing " : "resuming ") + setup.output + ": " +
             std::to_string(coordinator.restart().runs_done) + " of " +
             std::to_string(setup.grid.runs.size()) + " runs finished, " +
             format_sci(setup.grid.total_flops()) + " FLOPs in all");
    while (true) {
      if (stop_requested()) coordinator.stop();
      const std::optional<Coordinator::Start> start = coordinator.next_start();
      if (!start) break;
      const Assignment* next = &start->assignment;
      const RunSpec& run = setup.grid.runs[size_t(next->run)];
      RunSink sink;
      sink.on_train = [&](const TrainRecord& r) { coordinator.on_records(0, next->run, {r}, {}); };
      sink.on_eval = [&](const EvalRecord& r) { coordinator.on_records(0, next->run, {}, {r}); };
      TrainConfig config = make_train_config(job, run, device, threads, 1, next->recipe);
      config.fault = fault_for(fault, run.run_id, 0, next->attempt);
      const RunResult result =
          run_one(config, *setup.data, sink, checkpoint_path(setup.output, run),
                  job.sweep.checkpoint_interval, [] { return stop_requested(); });
      coordinator.on_result(0, next->run, result);
    }
    exit_code = coordinator.finish(options.json);
  }
  if (stop_requested()) return exit_code;
  { SweepStore closed = std::move(store); }  // the report reads the file afresh
  report_after_sweep(setup.output);
  return exit_code;
}

}  // namespace sweep
