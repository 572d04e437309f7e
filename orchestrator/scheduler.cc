#include "orchestrator/scheduler.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>

namespace sweep {

const char* to_string(RunEvent event) {
  switch (event) {
    case RunEvent::kStart:
      return "start";
    case RunEvent::kFinish:
      return "finish";
    case RunEvent::kDiverge:
      return "diverge";
    case RunEvent::kFail:
      return "fail";
    case RunEvent::kStop:
      return "stop";
  }
  return "?";
}

std::vector<int> cut_into_slots(int workers, const std::vector<int64_t>& sizes) {
  std::vector<int> slots;
  int used = 0;
  for (size_t turn = 0, misses = 0; misses < sizes.size(); ++turn) {
    const int size = int(sizes[turn % sizes.size()]);
    if (size < 1 || used + size > workers) {
      ++misses;
      continue;
    }
    misses = 0;
    slots.push_back(size);
    used += size;
  }
  return slots;
}

Scheduler::Scheduler(std::vector<double> flops, std::vector<RunState> states,
                     std::vector<int> ranks_needed)
    : flops_(std::move(flops)), states_(std::move(states)), ranks_needed_(std::move(ranks_needed)) {
  if (states_.size() != flops_.size()) throw std::invalid_argument("one state per run");
  if (ranks_needed_.empty()) ranks_needed_.assign(flops_.size(), 1);
  for (RunState& s : states_) {
    if (s == RunState::kRunning) s = RunState::kPending;  // a sweep that died mid-run resumes it
  }
  by_flops_.resize(flops_.size());
  std::iota(by_flops_.begin(), by_flops_.end(), 0);
  std::stable_sort(by_flops_.begin(), by_flops_.end(),
                   [&](int a, int b) { return flops_[size_t(a)] > flops_[size_t(b)]; });
}

void Scheduler::transition(int run, RunEvent event) {
  RunState& s = states_.at(size_t(run));
  RunState next = s;
  switch (event) {
    case RunEvent::kStart:
      if (s == RunState::kPending) next = RunState::kRunning;
      break;
    case RunEvent::kFinish:
      if (s == RunState::kRunning) next = RunState::kDone;
      break;
    case RunEvent::kDiverge:
      if (s == RunState::kRunning) next = RunState::kDiverged;
      break;
    case RunEvent::kFail:
      if (s == RunState::kRunning) next = RunState::kFailed;
      break;
    case RunEvent::kStop:
      if (s == RunState::kRunning) next = RunState::kPending;
      break;
  }
  if (next == s) {
    throw std::logic_error(std::string("run ") + std::to_string(run) + ": cannot " +
                           to_string(event) + " when " + to_string(s));
  }
  s = next;
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
