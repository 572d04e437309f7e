// `sweepd JOB.toml`: the whole study. Without mpirun the coordinator trains
// every run itself, in grid order (budget by budget, small models first);
// under mpirun, rank 0 coordinates and slots of ranks train (mpi_sweep.cc).
// Either way the HDF5 file is written as the sweep goes, and rerunning the
// same command resumes: done and diverged runs are skipped, partial runs
// continue from their checkpoints.

#include <chrono>
#include <cmath>
#include <cstdlib>

#include "common/error.h"
#include "common/format.h"
#include "common/log.h"
#include "common/signals.h"
#include "orchestrator/commands.h"
#include "orchestrator/scheduler.h"
#include "orchestrator/fit_stage.h"
#include "orchestrator/sweep_run.h"
#include "worker/worker.h"

namespace sweep {

namespace {

using Clock = std::chrono::steady_clock;

// True when started by mpirun/srun with more than one process.
bool launched_with_several_ranks() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"}) {
    if (const char* value = std::getenv(name)) return std::atoi(value) > 1;
  }
  return false;
}

std::vector<RunState> stored_states(const SweepStore& store, size_t runs) {
  std::vector<RunState> states;
  for (size_t i = 0; i < runs; ++i) states.push_back(store.progress(int64_t(i)).state);
  return states;
}

std::vector<double> run_flops(const Grid& grid) {
  std::vector<double> flops;
  for (const RunSpec& run : grid.runs) flops.push_back(run.flops);
  return flops;
}

}  // namespace

int run_command(const RunOptions& options) {
  if (launched_with_several_ranks()) return run_mpi_sweep(options);
  install_stop_handlers();
  SweepSetup setup = prepare_sweep(options.job_path, options.output, /*verbose=*/true);
  const JobSpec& job = setup.job;
  const Grid& grid = setup.grid;
  SweepStore store = SweepStore::open(setup.output, setup.info, setup.runs);
  const ResumeState resume = resume_store(store, setup);
  store.start_writing();
  log_info((store.created() ? "writing " : "resuming ") + setup.output + ": " +
           std::to_string(resume.runs_done) + " of " + std::to_string(grid.runs.size()) +
           " runs finished, " + format_sci(grid.total_flops()) + " FLOPs in all");

  Scheduler scheduler(run_flops(grid), stored_states(store, grid.runs.size()));
  const std::string device = choose_device(job.resources.device, 0);
  const int threads = choose_threads(job.resources.threads_per_rank, 1);
  Progress progress(grid.runs.size(), grid.total_flops(), resume.flops_done);
  double flops_done = resume.flops_done;
  size_t runs_done = resume.runs_done;
  auto last_flush = Clock::now();
  int failures = 0;
  // One process: grid order, so each budget's profile completes early.
  for (const RunSpec& run : grid.runs) {
    if (stop_requested()) break;
    if (scheduler.state(run.index) != RunState::kPending) continue;
    scheduler.transition(run.index, RunEvent::kStart);
    RunProgress state;
    state.state = RunState::kRunning;
    store.set_progress(run.index, state);
    store.flush();

    RunSink sink;
    sink.on_train = [&](const TrainRecord& r) {
      store.append_train(run.index, r);
      if (std::chrono::duration<double>(Clock::now() - last_flush).count() > 1.0) {
        store.flush();
        last_flush = Clock::now();
      }
      char detail[96];
      std::snprintf(detail, sizeof(detail), "%s loss %.4f", run.run_id.c_str(), r.loss);
      progress.update(runs_done, flops_done + r.flops, detail);
    };
    sink.on_eval = [&](const EvalRecord& r) {
      store.append_eval(run.index, r);
      store.flush();
    };
    const WorkerResult result =
        run_one(make_train_config(job, run, device, threads), *setup.data, sink,
                checkpoint_path(setup.output, run), job.sweep.checkpoint_interval,
                [] { return stop_requested(); });
    scheduler.transition(run.index, event_of(result.outcome));
    store.set_progress(run.index, progress_of(result));
    store.flush();
    if (result.outcome == Outcome::kStopped) break;
    flops_done += run.flops;
    ++runs_done;
    if (result.outcome == Outcome::kFailed) ++failures;
    if (result.outcome != Outcome::kDone) {
      log_warn(run.run_id + " " + to_string(scheduler.state(run.index)) + ": " + result.reason);
    }
  }
  progress.finish();
  if (stop_requested()) {
    log_info("stopped (" + stop_reason() + ")" +
             ": runs checkpointed; rerun the same command to resume");
    return kExitOk;
  }
  print_results(grid, store, setup, options.json);
  { SweepStore closed = std::move(store); }  // the report reads the file afresh
  report_after_sweep(setup.output);
  return failures > 0 ? kExitFailure : kExitOk;
}

}  // namespace sweep
