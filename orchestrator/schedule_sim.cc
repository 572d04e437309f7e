#include "orchestrator/schedule_sim.h"

#include <algorithm>
#include <limits>
#include <numeric>
#include <queue>
#include <set>
#include <tuple>

#include "spec/tuning.h"

namespace sweep {

ScheduleResult simulate_schedule(Scheduler& scheduler,
                                 const std::function<double(int run, const SlotGroup&)>& seconds) {
  ScheduleResult result;
  result.runs.resize(scheduler.size());
  using Event = std::pair<double, int>;  // (time a run ends, run)
  std::priority_queue<Event, std::vector<Event>, std::greater<>> ends;
  double now = 0;
  while (true) {
    while (const std::optional<Placement> p = scheduler.next()) {
      scheduler.start(p->run, p->group);
      const SlotGroup& group = scheduler.groups()[size_t(p->group)];
      const double duration = seconds(p->run, group);
      result.runs[size_t(p->run)] = {p->group, now, now + duration};
      result.busy_rank_seconds += duration * group.size();
      ends.push({now + duration, p->run});
    }
    if (ends.empty()) break;
    const auto [time, run] = ends.top();
    ends.pop();
    now = time;
    result.makespan = std::max(result.makespan, time);
    scheduler.finish(run, RunOutcome::kDone);
  }
  return result;
}

namespace {

// The choices of group sizes over every target time (see choose_run_ranks),
// distinct, each with its bound; sorted by bound.
struct Allotment {
  std::vector<int> ranks;
  double bound = 0;
};

std::vector<Allotment> allotments(const RunCostModel& cost, const std::vector<SlotGroup>& groups,
                                  const std::vector<int>& ranks_needed,
                                  const std::vector<bool>& todo, const std::vector<double>& noise) {
  const std::vector<std::pair<int, int>> sizes = group_sizes(groups);
  std::set<int> ranks;
  for (const SlotGroup& g : groups) ranks.insert(g.ranks.begin(), g.ranks.end());
  const double workers = double(ranks.size());
  const size_t runs = cost.steps.size();
  auto counted = [&](size_t i) { return todo.empty() || todo[i]; };
  // seconds[i][j]: run i on a group of sizes[j] (infinite below its need).
  std::vector<std::vector<double>> seconds(runs);
  std::vector<double> targets;
  for (size_t i = 0; i < runs; ++i) {
    for (const auto& [size, nodes] : sizes) {
      const bool allowed = size >= ranks_needed[i] || size == sizes.back().first;
      const double factor = noise.empty() ? 1.0 : noise[i];
      seconds[i].push_back(allowed ? cost.seconds(int(i), size, nodes) * factor
                                   : std::numeric_limits<double>::infinity());
      if (allowed && counted(i)) targets.push_back(seconds[i].back());
    }
  }
  std::sort(targets.begin(), targets.end());
  targets.erase(std::unique(targets.begin(), targets.end()), targets.end());
  std::vector<Allotment> out;
  std::set<std::vector<int>> seen;
  // Each target with each floor (no run below sizes[floor], where it may
  // use that many): the floors add the uniform layouts of fixed slots.
  for (size_t floor = 0; floor < sizes.size(); ++floor)
  for (auto t = targets.rbegin(); t != targets.rend(); ++t) {  // largest first: fewer ranks
    Allotment a;
    double rank_seconds = 0, longest = 0;
    for (size_t i = 0; i < runs; ++i) {
      size_t fastest = 0, chosen = sizes.size();
      for (size_t j = 0; j < sizes.size(); ++j) {
        if (seconds[i][j] < seconds[i][fastest]) fastest = j;
        if (chosen == sizes.size() && j >= floor && seconds[i][j] <= *t) chosen = j;
      }
      const size_t pick = chosen < sizes.size() ? chosen : fastest;
      a.ranks.push_back(sizes[pick].first);
      if (!counted(i)) continue;
      rank_seconds += sizes[pick].first * seconds[i][pick];
      longest = std::max(longest, seconds[i][pick]);
    }
    a.bound = std::max(rank_seconds / workers, longest);
    if (seen.insert(a.ranks).second) out.push_back(std::move(a));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Allotment& a, const Allotment& b) { return a.bound < b.bound; });
  return out;
}

}  // namespace

std::vector<int> choose_run_ranks(const RunCostModel& cost, const std::vector<SlotGroup>& groups,
                                  const std::vector<int>& ranks_needed,
                                  const std::vector<bool>& todo) {
  const std::vector<Allotment> choices = allotments(cost, groups, ranks_needed, todo, {});
  std::vector<double> flops;
  std::vector<RunState> states;
  for (size_t i = 0; i < cost.steps.size(); ++i) {
    flops.push_back(cost.work[i].flops * double(cost.steps[i]));
    states.push_back(todo.empty() || todo[i] ? RunState::kPending : RunState::kDone);
  }
  // The shortest makespan; within 0.2% of it, the fewest GPU-seconds (no run
  // on more ranks than the makespan needs).
  std::vector<ScheduleResult> results;
  double shortest = std::numeric_limits<double>::infinity();
  for (size_t c = 0; c < choices.size() && c < size_t(kCandidates); ++c) {
    Scheduler scheduler(flops, states, ranks_needed);
    scheduler.set_groups(groups, choices[c].ranks,
                         run_ranks_seconds(cost, groups, choices[c].ranks));
    results.push_back(simulate_schedule(scheduler, [&](int run, const SlotGroup& g) {
      return cost.seconds(run, g.size(), g.nodes);
    }));
    shortest = std::min(shortest, results.back().makespan);
  }
  size_t best = 0;
  for (size_t c = 0; c < results.size(); ++c) {
    if (results[c].makespan <= shortest * 1.002 &&
        (results[best].makespan > shortest * 1.002 ||
         results[c].busy_rank_seconds < results[best].busy_rank_seconds))
      best = c;
  }
  if (results.empty()) return std::vector<int>(cost.steps.size(), 1);
  std::vector<int> chosen = choices[best].ranks;
  const double makespan = results[best].makespan;

  // Shrink: runs of about the same work (within 5%), smallest first, take the
  // fewest ranks that keep the simulated makespan within 0.1%, so small runs
  // fill single GPUs instead of riding along on wide groups.
  auto simulate = [&](const std::vector<int>& ranks) {
    Scheduler scheduler(flops, states, ranks_needed);
    scheduler.set_groups(groups, ranks, run_ranks_seconds(cost, groups, ranks));
    return simulate_schedule(scheduler, [&](int run, const SlotGroup& g) {
             return cost.seconds(run, g.size(), g.nodes);
           }).makespan;
  };
  std::vector<int> order(cost.steps.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int a, int b) { return flops[size_t(a)] < flops[size_t(b)]; });
  const std::vector<std::pair<int, int>> sizes = group_sizes(groups);
  for (size_t first = 0; first < order.size();) {
    size_t end = first + 1;
    while (end < order.size() && flops[size_t(order[end])] <= flops[size_t(order[first])] * 1.05)
      ++end;
    for (const auto& [size, nodes] : sizes) {
      std::vector<int> trial = chosen;
      bool smaller = false;
      for (size_t k = first; k < end; ++k) {
        const size_t run = size_t(order[k]);
        const int floor = std::max(size, ranks_needed[run]);
        if (floor < trial[run]) {
          trial[run] = floor;
          smaller = true;
        }
      }
      if (!smaller) break;  // this size and the larger ones shrink nothing
      if (simulate(trial) <= makespan * 1.001) {
        chosen = trial;
        break;
      }
    }
    first = end;
  }
  return chosen;
}

double modelled_bound(const RunCostModel& cost, const std::vector<SlotGroup>& groups,
                      const std::vector<int>& ranks_needed, const std::vector<double>& noise) {
  const std::vector<Allotment> choices = allotments(cost, groups, ranks_needed, {}, noise);
  return choices.empty() ? 0.0 : choices.front().bound;
}

NodeRanks cluster_nodes(int gpus, int per_node) {
  NodeRanks nodes;
  for (int rank = 1; rank <= gpus; ++rank) {
    if ((rank - 1) % per_node == 0) nodes.emplace_back();
    nodes.back().push_back(rank);
  }
  return nodes;
}

SweepSimulation simulate_sweep(const JobSpec& job, const Grid& grid, const RunCostModel& cost,
                               int gpus, int gpus_per_node, bool auto_slots,
                               double memory_per_rank, const std::vector<double>& noise,
                               const std::vector<int>& run_ranks) {
  SweepSimulation sim;
  sim.auto_slots = auto_slots;
  sim.gpus = gpus;
  const NodeRanks nodes = cluster_nodes(gpus, gpus_per_node);
  sim.groups = make_groups(nodes, layout_request(job, auto_slots));
  sim.idle_ranks = idle_ranks(nodes, sim.groups);
  const size_t runs = grid.runs.size();
  auto factor = [&](int run) { return noise.empty() ? 1.0 : noise[size_t(run)]; };
  for (size_t i = 0; i < runs; ++i)
    sim.work_bound_ideal += cost.ideal_seconds(int(i), 1) * factor(int(i)) / double(gpus);
  if (sim.groups.empty()) return sim;

  sim.ranks_needed = runs_ranks_needed(job, grid, sim.groups, memory_per_rank, /*cuda=*/true);
  // A run that fits no group's memory is planned on the largest (the plan says so).
  const std::vector<std::pair<int, int>> sizes = group_sizes(sim.groups);
  std::vector<int> needed = sim.ranks_needed;
  for (int& n : needed) n = std::min(n == 0 ? sizes.back().first : n, sizes.back().first);
  std::vector<double> flops;
  for (const RunSpec& run : grid.runs) flops.push_back(run.flops);
  Scheduler scheduler(flops, std::vector<RunState>(runs, RunState::kPending), needed);
  std::vector<double> expected;
  if (auto_slots) {
    sim.run_ranks = run_ranks.empty() ? choose_run_ranks(cost, sim.groups, needed) : run_ranks;
    expected = run_ranks_seconds(cost, sim.groups, sim.run_ranks);
  }
  sim.work_bound_modelled = modelled_bound(cost, sim.groups, needed, noise);
  scheduler.set_groups(sim.groups, sim.run_ranks, expected);
  scheduler.set_prerequisites(tune_prerequisites(grid));
  sim.schedule = simulate_schedule(scheduler, [&](int run, const SlotGroup& g) {
    return cost.seconds(run, g.size(), g.nodes) * factor(run);
  });
  // The longest run, on the group of the layout where it is fastest.
  for (size_t i = 0; i < runs; ++i) {
    double fastest = 0;
    for (const auto& [size, span] : sizes) {
      if (size < needed[i]) continue;
      const double t = cost.seconds(int(i), size, span) * factor(int(i));
      if (fastest == 0 || t < fastest) fastest = t;
    }
    sim.longest_run = std::max(sim.longest_run, fastest);
  }
  return sim;
}

}  // namespace sweep
