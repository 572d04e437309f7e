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
      max_attempts_(std::max(1, max_attempts)),
      run_group_(flops_.size(), -1) {
  if (stored.size() != flops_.size()) throw std::invalid_argument("one state per run");
  if (ranks_needed_.empty()) ranks_needed_.assign(flops_.size(), 1);
  for (RunState s : stored) states_.push_back(restart_state(s));
  by_flops_.resize(flops_.size());
  std::iota(by_flops_.begin(), by_flops_.end(), 0);
  std::stable_sort(by_flops_.begin(), by_flops_.end(),
                   [&](int a, int b) { return flops_[size_t(a)] > flops_[size_t(b)]; });
  SlotGroup one;
  one.ranks = {0};
  set_groups({one});
}

void Scheduler::set_groups(std::vector<SlotGroup> groups, std::vector<int> run_ranks,
                           const std::vector<double>& run_seconds) {
  for (int g : run_group_)
    if (g >= 0) throw std::logic_error("set_groups while runs are running");
  if (!run_ranks.empty() && run_ranks.size() != flops_.size())
    throw std::invalid_argument("one group size per run");
  if (!run_seconds.empty()) {
    if (run_seconds.size() != flops_.size()) throw std::invalid_argument("one time per run");
    std::stable_sort(by_flops_.begin(), by_flops_.end(), [&](int a, int b) {
      return run_seconds[size_t(a)] > run_seconds[size_t(b)];
    });
  }
  groups_ = std::move(groups);
  run_ranks_ = std::move(run_ranks);
  busy_.assign(groups_.size(), 0);
  parent_.assign(groups_.size(), -1);
  rank_groups_.clear();
  free_of_size_.clear();
  by_size_.clear();
  for (int g = 0; g < int(groups_.size()); ++g) {
    const SlotGroup& group = groups_[size_t(g)];
    if (group.ranks.empty()) throw std::invalid_argument("a group needs ranks");
    by_size_[group.size()].push_back(g);
    for (int rank : group.ranks) {
      if (rank < 0) throw std::invalid_argument("rank ids are >= 0");
      if (size_t(rank) >= rank_groups_.size()) rank_groups_.resize(size_t(rank) + 1);
      rank_groups_[size_t(rank)].push_back(g);
    }
    ++free_of_size_[group.size()];
  }
  // Parents: the smallest group holding every rank of the group (nested layouts).
  for (int g = 0; g < int(groups_.size()); ++g) {
    const SlotGroup& group = groups_[size_t(g)];
    std::vector<int> mine = group.ranks;
    std::sort(mine.begin(), mine.end());
    for (int h : rank_groups_[size_t(group.ranks.front())]) {
      const SlotGroup& other = groups_[size_t(h)];
      if (other.size() <= group.size()) continue;
      if (parent_[size_t(g)] >= 0 && other.size() >= groups_[size_t(parent_[size_t(g)])].size())
        continue;
      std::vector<int> theirs = other.ranks;
      std::sort(theirs.begin(), theirs.end());
      if (std::includes(theirs.begin(), theirs.end(), mine.begin(), mine.end()))
        parent_[size_t(g)] = h;
    }
  }
}

void Scheduler::set_prerequisites(std::vector<std::vector<int>> after) {
  if (after.size() != flops_.size()) throw std::invalid_argument("one list per run");
  std::vector<bool> waited_on(flops_.size(), false);
  for (const std::vector<int>& runs : after) {
    for (int run : runs) {
      if (run < 0 || size_t(run) >= flops_.size()) throw std::invalid_argument("no such run");
      waited_on[size_t(run)] = true;
    }
  }
  after_ = std::move(after);
  std::stable_partition(by_flops_.begin(), by_flops_.end(),
                        [&](int run) { return waited_on[size_t(run)]; });
}

bool Scheduler::ready(int run) const {
  if (after_.empty()) return true;
  for (int before : after_[size_t(run)]) {
    const RunState s = states_[size_t(before)];
    if (s == RunState::kPending || s == RunState::kRunning) return false;
  }
  return true;
}

void Scheduler::mark(int group, int delta) {
  for (int rank : groups_[size_t(group)].ranks) {
    for (int h : rank_groups_[size_t(rank)]) {
      int& busy = busy_[size_t(h)];
      if (busy == 0 && delta > 0) --free_of_size_[groups_[size_t(h)].size()];
      busy += delta;
      if (busy == 0 && delta < 0) ++free_of_size_[groups_[size_t(h)].size()];
    }
  }
}

std::optional<Placement> Scheduler::next() const {
  for (int run : by_flops_) {
    if (states_[size_t(run)] != RunState::kPending || !ready(run)) continue;
    int best = -1;
    if (run_ranks_.empty()) {
      // Fixed slots: the largest free group the run fits.
      for (int g = 0; g < int(groups_.size()); ++g) {
        const int size = groups_[size_t(g)].size();
        if (busy_[size_t(g)] == 0 && size >= ranks_needed_[size_t(run)] &&
            (best < 0 || size > groups_[size_t(best)].size()))
          best = g;
      }
    } else {
      // Sized runs: a free group of the run's size, in the busiest parent.
      const int size = run_ranks_[size_t(run)];
      const auto free = free_of_size_.find(size);
      if (free == free_of_size_.end() || free->second == 0) continue;
      int best_busy = -1;
      for (int g : by_size_.at(size)) {
        if (busy_[size_t(g)] != 0) continue;
        const int parent = parent_[size_t(g)];
        const int parent_busy = parent >= 0 ? busy_[size_t(parent)] : 0;
        if (parent_busy > best_busy) {
          best = g;
          best_busy = parent_busy;
        }
      }
    }
    if (best >= 0) return Placement{run, best};
  }
  return std::nullopt;
}

void Scheduler::start(int run, int group) {
  RunState& s = states_.at(size_t(run));
  if (s != RunState::kPending) {
    throw std::logic_error("run " + std::to_string(run) + ": cannot start when " + to_string(s));
  }
  if (group < 0 || group >= int(groups_.size()) || busy_[size_t(group)] != 0) {
    throw std::logic_error("run " + std::to_string(run) + ": group " + std::to_string(group) +
                           " is not free");
  }
  s = RunState::kRunning;
  run_group_[size_t(run)] = group;
  mark(group, +1);
}

RunState Scheduler::finish(int run, RunOutcome outcome) {
  RunState& s = states_.at(size_t(run));
  if (s != RunState::kRunning) {
    throw std::logic_error("run " + std::to_string(run) + ": cannot end as " + to_string(outcome) +
                           " when " + to_string(s));
  }
  mark(run_group_[size_t(run)], -1);
  run_group_[size_t(run)] = -1;
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

int Scheduler::count(RunState state) const {
  return int(std::count(states_.begin(), states_.end(), state));
}

bool Scheduler::finished() const {
  return count(RunState::kPending) == 0 && count(RunState::kRunning) == 0;
}

}  // namespace sweep
