#include "orchestrator/scheduler.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>

namespace sweep {

Scheduler::Scheduler(std::vector<double> flops, const std::vector<RunState>& stored,
                     std::vector<int> ranks_needed, int max_attempts)
    : flops_(std::move(flops)),
      ranks_needed_(std::move(ranks_needed)),
      failures_(flops_.size(), 0),
      max_attempts_(std::max(1, max_attempts)) {
  if (stored.size() != flops_.size()) throw std::invalid_argument("one state per run");
  if (ranks_needed_.empty()) ranks_needed_.assign(flops_.size(), 1);
  for (RunState s : stored) states_.push_back(restart_state(s));
  by_flops_.resize(flops_.size());
  std::iota(by_flops_.begin(), by_flops_.end(), 0);
  std::stable_sort(by_flops_.begin(), by_flops_.end(),
                   [&](int a, int b) { return flops_[size_t(a)] > flops_[size_t(b)]; });
}

void Scheduler::start(int run) {
  RunState& s = states_.at(size_t(run));
  if (s != RunState::kPending) {
    throw std::logic_error("run " + std::to_string(run) + ": cannot start when " + to_string(s));
  }
  s = RunState::kRunning;
}

RunState Scheduler::finish(int run, RunOutcome outcome) {
  RunState& s = states_.at(size_t(run));
  if (s != RunState::kRunning) {
    throw std::logic_error("run " + std::to_string(run) + ": cannot end as " + to_string(outcome) +
                           " when " + to_string(s));
  }
  switch (outcome) {
    case RunOutcome::kDone:
      s = RunState::kDone;
      break;
    case RunOutcome::kDiverged:
      s = RunState::kDiverged;
      break;
    case RunOutcome::kFailed:
      s = ++failures_[size_t(run)] < max_attempts_ ? RunState::kPending : RunState::kFailed;
      break;
    case RunOutcome::kStopped:
      s = RunState::kPending;
      break;
  }
  return s;
}

std::optional<int> Scheduler::next_for(int slot_ranks) const {
  for (int run : by_flops_) {
    if (states_[size_t(run)] == RunState::kPending && ranks_needed_[size_t(run)] <= slot_ranks)
      return run;
  }
  return std::nullopt;
}

int Scheduler::count(RunState state) const {
  return int(std::count(states_.begin(), states_.end(), state));
}

bool Scheduler::finished() const {
  return count(RunState::kPending) == 0 && count(RunState::kRunning) == 0;
}

}  // namespace sweep
