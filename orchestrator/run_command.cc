// `sweepd JOB.toml`: the whole study in one process. The coordinator trains
// every run itself, in grid order (budget by budget, small models first),
// writing the HDF5 file as it goes, and resumes an interrupted sweep: done and
// diverged runs are skipped, partial runs continue from their checkpoints.

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/format.h"
#include "common/log.h"
#include "common/signals.h"
#include "common/table.h"
#include "model/data.h"
#include "orchestrator/commands.h"
#include "orchestrator/grid.h"
#include "orchestrator/sweep_setup.h"
#include "storage/store.h"
#include "worker/worker.h"
#include "version.h"

namespace sweep {
namespace {

using Clock = std::chrono::steady_clock;

// Runs done / total, FLOPs done / total, elapsed, ETA, last loss: a live line
// on a terminal, a log line every 30 s otherwise.
class Progress {
 public:
  Progress(size_t runs, double total_flops) : runs_(runs), total_flops_(total_flops) {}

  void update(size_t runs_done, double flops_done, const std::string& current, double last_loss) {
    const auto now = Clock::now();
    const double since_draw = std::chrono::duration<double>(now - last_draw_).count();
    if (since_draw < (tty_ ? 0.5 : 30.0)) return;
    last_draw_ = now;
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    // ETA from the FLOP rate of this session (resumed work excluded), once
    // there is enough of it to mean something.
    const double session_flops = flops_done - flops_at_start_;
    const double eta = session_flops > 0 && elapsed >= 20
                           ? elapsed * (total_flops_ - flops_done) / session_flops
                           : NAN;
    char line[256];
    std::snprintf(line, sizeof(line), "runs %zu/%zu | FLOPs %s/%s (%.0f%%) | %s elapsed, ETA %s | %s loss %.4f",
                  runs_done, runs_, format_sci(flops_done, 2).c_str(), format_sci(total_flops_, 2).c_str(),
                  100.0 * flops_done / total_flops_, format_duration(elapsed).c_str(),
                  format_duration(eta).c_str(), current.c_str(), last_loss);
    if (tty_) set_live_line(line); else log_info(line);
  }
  void start_from(double flops_done) { flops_at_start_ = flops_done; }
  void finish() { set_live_line(""); if (tty_) std::fputc('\n', stderr); }

 private:
  size_t runs_;
  double total_flops_, flops_at_start_ = 0;
  bool tty_ = ::isatty(STDERR_FILENO) == 1;
  Clock::time_point start_ = Clock::now();
  // A terminal shows the line at once; a log gets its first line after 30 s.
  Clock::time_point last_draw_ = tty_ ? Clock::time_point() : Clock::now();
};

bool finished(RunState state) { return state == RunState::kDone || state == RunState::kDiverged; }

RunState state_of(Outcome outcome) {
  switch (outcome) {
    case Outcome::kDone: return RunState::kDone;
    case Outcome::kDiverged: return RunState::kDiverged;
    case Outcome::kStopped: return RunState::kPending;
    case Outcome::kFailed: return RunState::kFailed;
  }
  return RunState::kFailed;
}

void print_final_table(const Grid& grid, const SweepStore& store, double bytes_per_token) {
  std::map<double, double> best;  // budget -> lowest final eval loss
  for (const RunSpec& run : grid.runs) {
    const RunProgress p = store.progress(run.index);
    if (p.state == RunState::kDone && std::isfinite(p.final_eval_loss)) {
      auto [it, fresh] = best.emplace(run.budget, p.final_eval_loss);
      if (!fresh) it->second = std::min(it->second, p.final_eval_loss);
    }
  }
  TextTable table({"run", "budget", "N", "D", "D/N", "eval loss", "bits/byte", "status", ""});
  for (const RunSpec& run : grid.runs) {
    const RunProgress p = store.progress(run.index);
    char loss[32] = "-", bpb[32] = "-", ratio[32];
    if (std::isfinite(p.final_eval_loss)) {
      std::snprintf(loss, sizeof(loss), "%.4f", p.final_eval_loss);
      if (std::isfinite(bytes_per_token)) {
        std::snprintf(bpb, sizeof(bpb), "%.4f", p.final_eval_loss / std::log(2.0) / bytes_per_token);
      }
    }
    std::snprintf(ratio, sizeof(ratio), "%.3g", run.tokens_per_param());
    const bool is_best = p.state == RunState::kDone && best.count(run.budget) &&
                         p.final_eval_loss == best[run.budget];
    table.add_row({run.run_id, run.budget > 0 ? format_sci(run.budget) : "-",
                   format_count(double(run.params.total)), format_count(double(run.tokens)), ratio, loss,
                   bpb, to_string(p.state), is_best ? "<- best at this budget" : ""});
  }
  std::cout << "\nfinal validation loss (nats per token) by budget and size\n";
  table.print(std::cout);
}

void print_final_json(const Grid& grid, const SweepStore& store, const std::string& output) {
  nlohmann::json out;
  out["output"] = output;
  out["runs"] = nlohmann::json::array();
  for (const RunSpec& run : grid.runs) {
    const RunProgress p = store.progress(run.index);
    auto number = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); };
    out["runs"].push_back({{"run_id", run.run_id},
                           {"budget", run.budget},
                           {"params_total", run.params.total},
                           {"params_non_embedding", run.params.non_embedding},
                           {"tokens", run.tokens},
                           {"flops", run.flops},
                           {"status", to_string(p.state)},
                           {"reason", p.reason},
                           {"final_eval_loss", number(p.final_eval_loss)},
                           {"final_train_loss", number(p.final_train_loss)},
                           {"wall_seconds", p.wall_seconds}});
  }
  std::cout << out.dump(2) << "\n";
}

}  // namespace

int run_command(const RunOptions& options) {
  install_stop_handlers();
  SweepSetup setup = prepare_sweep(options.job_path, options.output);
  const JobSpec& job = setup.job;
  const Grid& grid = setup.grid;
  SweepStore store = SweepStore::open(setup.output, setup.info, setup.runs);

  // Resume: finished runs stay; partial runs get the curve of their checkpoint.
  double flops_done = 0;
  size_t runs_done = 0;
  for (const RunSpec& run : grid.runs) {
    const RunProgress p = store.progress(run.index);
    if (finished(p.state)) {
      flops_done += run.flops;
      ++runs_done;
      continue;
    }
    const std::string checkpoint = checkpoint_path(setup.output, run);
    if (std::filesystem::exists(checkpoint)) {
      const CheckpointCurves curves = read_checkpoint_curves(checkpoint);
      store.reset_curves(run.index, curves.train, curves.eval);
      flops_done += run.flops_per_token * double(curves.step * job.train.batch_tokens);
    } else {
      store.reset_curves(run.index, {}, {});
    }
  }
  store.start_writing();
  if (!store.created()) {
    log_info("resuming " + setup.output + ": " + std::to_string(runs_done) + " of " +
             std::to_string(grid.runs.size()) + " runs finished");
  } else {
    log_info("writing " + setup.output + " (" + std::to_string(grid.runs.size()) + " runs, " +
             format_sci(grid.total_flops()) + " FLOPs)");
  }

  const std::string device = choose_device(job.resources.device, 0);
  const int threads = choose_threads(job.resources.threads_per_rank, 1);
  Progress progress(grid.runs.size(), grid.total_flops());
  progress.start_from(flops_done);
  auto last_flush = Clock::now();
  int failures = 0;
  for (const RunSpec& run : grid.runs) {
    if (stop_requested()) break;
    RunProgress state = store.progress(run.index);
    if (finished(state.state)) continue;
    state.state = RunState::kRunning;
    state.reason.clear();
    store.set_progress(run.index, state);
    store.flush();

    double run_flops = 0, last_loss = NAN;
    RunSink sink;
    sink.on_train = [&](const TrainRecord& r) {
      store.append_train(run.index, r);
      run_flops = r.flops;
      last_loss = r.loss;
      if (std::chrono::duration<double>(Clock::now() - last_flush).count() > 1.0) {
        store.flush();
        last_flush = Clock::now();
      }
      progress.update(runs_done, flops_done + run_flops, run.run_id, last_loss);
    };
    sink.on_eval = [&](const EvalRecord& r) {
      store.append_eval(run.index, r);
      store.flush();
    };
    const TrainConfig config = make_train_config(job, run, device, threads);
    const WorkerResult result =
        run_one(config, *setup.data, sink, checkpoint_path(setup.output, run),
                job.sweep.checkpoint_interval, [] { return stop_requested(); });

    state.state = state_of(result.outcome);
    state.reason = result.reason;
    state.steps_done = result.train.steps_done;
    state.final_eval_loss = result.train.final_eval_loss;
    state.final_train_loss = result.train.final_train_loss;
    state.wall_seconds = result.train.wall_time;
    state.tokens_per_second = result.train.tokens_per_second;
    store.set_progress(run.index, state);
    store.flush();
    if (result.outcome == Outcome::kStopped) break;
    flops_done += run.flops;
    ++runs_done;
    if (result.outcome == Outcome::kFailed) ++failures;
    if (result.outcome != Outcome::kDone) {
      log_warn(run.run_id + " " + to_string(state.state) + ": " + result.reason);
    }
  }
  progress.finish();
  if (stop_requested()) {
    log_info("stopped by signal " + std::to_string(stop_signal()) + ": runs checkpointed; rerun the same command to resume");
    return kExitOk;
  }
  if (options.json) {
    print_final_json(grid, store, setup.output);
  } else {
    print_final_table(grid, store, setup.info.bytes_per_token);
    std::cout << "\nwrote " << setup.output << "\n";
  }
  return failures > 0 ? kExitFailure : kExitOk;
}

}  // namespace sweep
