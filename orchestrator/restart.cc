#include "orchestrator/restart.h"

#include <filesystem>

#include "model/train.h"
#include "worker/worker.h"

namespace sweep {

int64_t rewind_to_checkpoint(SweepStore& store, const SweepSetup& setup, int index) {
  const RunSpec& run = setup.grid.runs[size_t(index)];
  const std::string checkpoint = checkpoint_path(setup.output, run);
  if (!std::filesystem::exists(checkpoint)) {
    store.reset_curves(index, {}, {});
    return 0;
  }
  const CheckpointCurves curves = read_checkpoint_curves(checkpoint);
  store.reset_curves(index, curves.train, curves.eval);
  return curves.step;
}

RestartState restart_sweep(SweepStore& store, const SweepSetup& setup) {
  RestartState restart;
  for (const RunSpec& run : setup.grid.runs) {
    RunProgress p = store.progress(run.index);
    restart.stored.push_back(p.state);
    if (is_final(p.state)) {
      restart.flops_done += run.flops;
      ++restart.runs_done;
      continue;
    }
    if (p.state == RunState::kRunning) {
      // No result ever came for this attempt: the process training it (or
      // rank 0) died, or the sweep was killed. Its history says so.
      AttemptRecord lost;
      lost.run = run.index;
      lost.attempt = ++p.attempts;
      lost.outcome = RunOutcome::kFailed;
      const std::vector<TrainRecord> curve = store.train_curve(run.index);
      lost.end_step = curve.empty() ? 0 : curve.back().step;
      lost.reason =
          "interrupted: the sweep ended while this attempt ran (killed, or a process died)";
      store.append_attempt(lost);
    }
    const int64_t step = rewind_to_checkpoint(store, setup, int(run.index));
    restart.flops_done += run.flops_per_token * double(step * setup.job.train.batch_tokens);
    p.state = restart_state(p.state);
    p.steps_done = step;
    store.set_progress(run.index, p);
  }
  return restart;
}

}  // namespace sweep
