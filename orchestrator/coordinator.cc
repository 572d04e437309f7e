#include "orchestrator/coordinator.h"

#include <cmath>
#include <cstdio>

#include "common/error.h"
#include "common/format.h"
#include "common/log.h"
#include "common/signals.h"
#include "orchestrator/schedule_sim.h"
#include "spec/tuning.h"

namespace sweep {

namespace {

std::vector<double> run_flops(const Grid& grid) {
  std::vector<double> flops;
  for (const RunSpec& run : grid.runs) flops.push_back(run.flops);
  return flops;
}

// The scheduler over `groups`: each run's fewest ranks (large_runs, and its
// memory when memory_per_rank is set) and, for "auto", its group size.
Scheduler make_scheduler(const SweepSetup& setup, const std::vector<RunState>& stored,
                         std::vector<SlotGroup> groups) {
  const JobSpec& job = setup.job;
  const std::vector<int> needed = runs_ranks_needed(
      job, setup.grid, groups, job.resources.memory_per_rank, job.resources.device != "cpu");
  Scheduler scheduler(run_flops(setup.grid), stored, needed, int(job.sweep.max_attempts));
  std::vector<int> run_ranks;
  std::vector<double> expected;
  if (job.resources.auto_slots) {
    std::vector<bool> todo;
    for (RunState s : stored) todo.push_back(!is_final(restart_state(s)));
    const RunCostModel cost = run_cost_model(job, setup.grid, job_hardware(job), kDefaultMfu);
    run_ranks = choose_run_ranks(cost, groups, needed, todo);
    expected = run_ranks_seconds(cost, groups, run_ranks);
  }
  scheduler.set_groups(std::move(groups), std::move(run_ranks), expected);
  return scheduler;
}

}  // namespace

Coordinator::Coordinator(const SweepSetup& setup, SweepStore& store, std::vector<SlotGroup> groups)
    : setup_(setup),
      store_(store),
      restart_(restart_sweep(store, setup)),
      scheduler_(make_scheduler(setup, restart_.stored, std::move(groups))),
      group_run_(scheduler_.groups().size(), -1),
      group_flops_(scheduler_.groups().size(), 0.0),
      group_since_(scheduler_.groups().size()),
      rewind_(setup.grid.runs.size(), false),
      progress_(setup.grid.runs.size(), setup.grid.total_flops(), restart_.flops_done),
      runs_done_(restart_.runs_done),
      flops_done_(restart_.flops_done) {
  for (const RunSpec& run : setup.grid.runs)
    attempts_.push_back(store.progress(run.index).attempts);
  // A tuned variant whose grid has started keeps the recipe it started with
  // (a tune run retried later does not change it); the others' grids wait
  // for their tune runs.
  variant_recipe_.assign(setup.job.variants.size(), -1);
  for (const RunSpec& run : setup.grid.runs) {
    const int64_t stored = store.runs()[size_t(run.index)].recipe;
    if (!run.is_tune() && stored >= 0) variant_recipe_[size_t(run.variant)] = int(stored);
  }
  std::vector<bool> decided;
  for (int r : variant_recipe_) decided.push_back(r >= 0);
  scheduler_.set_prerequisites(tune_prerequisites(setup.grid, decided));
  store_.start_writing();
}

int Coordinator::recipe_for(int run) {
  const RunSpec& spec = setup_.grid.runs[size_t(run)];
  if (!spec.recipe_at_start()) return -1;
  const int64_t stored = store_.runs()[size_t(run)].recipe;
  if (stored >= 0) return int(stored);
  int& recipe = variant_recipe_[size_t(spec.variant)];
  if (recipe < 0) {
    // Every tune run of the variant has ended (the scheduler waited for them).
    std::vector<double> final_loss(setup_.grid.runs.size(), NAN);
    for (int t : tune_runs(setup_.grid, spec.variant)) {
      const RunProgress p = store_.progress(t);
      if (p.state == RunState::kDone) final_loss[size_t(t)] = p.final_eval_loss;
    }
    const TuneChoice choice = choose_recipe(setup_.job, setup_.grid, spec.variant, final_loss);
    recipe = choice.recipe;
    const Variant& variant = setup_.job.variants[size_t(spec.variant)];
    const TuneCandidateResult& best = choice.candidates[size_t(recipe)];
    char loss[32];
    std::snprintf(loss, sizeof(loss), "%.4f", best.mean_loss);
    log_info("tuned" + (variant.name.empty() ? std::string() : " " + variant.name) + ": " +
             candidate_label(variant.candidate_values[size_t(recipe)]) + " (" + choice.how +
             ", " + loss + ")");
    for (const std::string& edge : choice.edges) log_warn("tuning: " + edge);
  }
  store_.set_recipe(run, peak_lr(run_recipe(setup_.job, spec, recipe), spec.model), recipe);
  return recipe;
}

std::optional<Coordinator::Start> Coordinator::next_start() {
  if (stopping_) return std::nullopt;
  const std::optional<Placement> next = scheduler_.next();
  if (!next) return std::nullopt;
  const int run = next->run, group = next->group;
  scheduler_.start(run, group);
  RunProgress p = store_.progress(run);
  if (rewind_[size_t(run)]) {
    // A retry in this invocation: continue from the last checkpoint, with
    // the curves cut back to it (the failed attempt's later records go).
    p.steps_done = rewind_to_checkpoint(store_, setup_, run);
    rewind_[size_t(run)] = false;
  }
  p.state = RunState::kRunning;
  store_.set_progress(run, p);
  const int recipe = recipe_for(run);
  store_.flush();
  group_run_[size_t(group)] = run;
  group_flops_[size_t(group)] = 0;
  group_since_[size_t(group)] = Clock::now();
  return Start{group,
               Assignment{run, int32_t(attempts_[size_t(run)] + 1), int32_t(group), recipe}};
}

void Coordinator::on_records(int group, int run, const std::vector<TrainRecord>& train,
                             const std::vector<EvalRecord>& eval) {
  for (const TrainRecord& r : train) store_.append_train(run, r);
  for (const EvalRecord& r : eval) store_.append_eval(run, r);
  if (!train.empty()) {
    group_flops_[size_t(group)] = train.back().flops;
    char detail[96];
    std::snprintf(detail, sizeof(detail), "%s loss %.4f",
                  setup_.grid.runs[size_t(run)].run_id.c_str(), train.back().loss);
    last_detail_ = detail;
  }
  if (!eval.empty()) {
    store_.flush();
    last_flush_ = Clock::now();
  }
  tick();
  update_progress();
}

void Coordinator::on_result(int group, int run, const RunResult& result) {
  const RunSpec& spec = setup_.grid.runs[size_t(run)];
  const double seconds =
      std::chrono::duration<double>(Clock::now() - group_since_[size_t(group)]).count();
  busy_rank_seconds_ += seconds * scheduler_.groups()[size_t(group)].size();
  group_run_[size_t(group)] = -1;
  group_flops_[size_t(group)] = 0;

  AttemptRecord attempt;
  attempt.run = run;
  attempt.attempt = ++attempts_[size_t(run)];
  attempt.outcome = result.outcome;
  attempt.start_step = result.start_step;
  attempt.end_step = result.steps_done;
  attempt.wall_seconds = seconds;
  attempt.reason = result.reason;
  store_.append_attempt(attempt);

  const RunState state = scheduler_.finish(run, result.outcome);
  RunProgress p;
  p.state = state;
  p.reason = result.reason;
  p.steps_done = result.steps_done;
  p.final_eval_loss = result.final_eval_loss;
  p.final_train_loss = result.final_train_loss;
  p.wall_seconds = result.wall_time;
  p.tokens_per_second = result.tokens_per_second;
  p.attempts = attempts_[size_t(run)];
  store_.set_progress(run, p);
  store_.flush();
  last_flush_ = Clock::now();

  if (is_final(state) || state == RunState::kFailed) {
    flops_done_ += spec.flops;
    ++runs_done_;
  }
  const std::string id = spec.run_id + " attempt " + std::to_string(attempt.attempt);
  if (result.outcome == RunOutcome::kFailed && state == RunState::kPending) {
    rewind_[size_t(run)] = true;
    log_warn(id + " failed at step " + std::to_string(result.steps_done) + ": " + result.reason +
             "; retrying from its last checkpoint (" + std::to_string(scheduler_.failures(run)) +
             " of " + std::to_string(setup_.job.sweep.max_attempts) + " attempts used)");
  } else if (state == RunState::kFailed) {
    log_warn(id + " failed at step " + std::to_string(result.steps_done) + ": " + result.reason +
             "; no attempts left in this invocation (a rerun retries it)");
  } else if (state == RunState::kDiverged) {
    log_warn(id + " diverged: " + result.reason);
  }
  update_progress();
}

void Coordinator::tick() {
  if (std::chrono::duration<double>(Clock::now() - last_flush_).count() > 1.0) {
    store_.flush();
    last_flush_ = Clock::now();
  }
}

void Coordinator::update_progress() {
  double in_progress = 0;
  for (double f : group_flops_) in_progress += f;
  progress_.update(runs_done_, flops_done_ + in_progress, last_detail_);
}

int Coordinator::finish(bool json) {
  progress_.finish();
  store_.flush();
  if (stopping_) {
    log_info("stopped (" + stop_reason() +
             "): runs checkpointed; rerun the same command to resume");
    return kExitOk;
  }
  print_results(setup_.grid, store_, setup_, json);
  const int failed = scheduler_.count(RunState::kFailed);
  if (failed > 0) {
    log_warn(std::to_string(failed) + " run" + (failed == 1 ? "" : "s") +
             " failed (reasons in the table and the file's /attempts); rerun the same command "
             "to retry " +
             (failed == 1 ? "it" : "them") + " from the last checkpoint");
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace sweep
