// bench/schedule: the scheduler's policy (orchestrator/scheduler.h, the same
// code rank 0 runs) driven by a discrete-event simulation instead of MPI.
//
// A job's grid is expanded as sweepd would. Ranks sit on nodes of --node-ranks;
// rank 0 coordinates; each node's other ranks are cut into slots by the job's
// resources.ranks_per_run (as worker/comm.cc does), and a run trains on a slot
// of k ranks at k x the per-rank rate (resources.large_runs sends big runs to
// big slots), with log-normal noise on each run's time. For each number of
// ranks it prints the makespan over the lower bound max(total work / slot
// capacity, longest run), and the share of all ranks' time spent training.
//
//   bench_schedule [--job jobs/chinchilla.toml] [--ranks 64,512,4096]
//                  [--node-ranks 8] [--rank-flops 3.96e14] [--noise 0.1] [--trials 20]

#include <algorithm>
#include <cstdio>
#include <queue>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "spec/grid.h"
#include "spec/job_spec.h"
#include "orchestrator/scheduler.h"
#include "spec/slots.h"

using namespace sweep;

struct Outcome {
  double makespan, work_bound, longest_bound, busy_rank_seconds;
};

Outcome simulate(const std::vector<double>& flops, const std::vector<int>& ranks_needed,
                 const std::vector<int>& slot_sizes, double rank_flops, double noise,
                 std::mt19937_64& random) {
  std::lognormal_distribution<double> jitter(0.0, noise);
  std::vector<double> jitters(flops.size());
  for (double& j : jitters) j = jitter(random);
  Scheduler scheduler(flops, std::vector<RunState>(flops.size(), RunState::kPending), ranks_needed);
  // Events: (time a slot becomes idle, slot, run it finished or -1).
  using Event = std::tuple<double, int, int>;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events;
  for (int s = 0; s < int(slot_sizes.size()); ++s) events.push({0.0, s, -1});
  double makespan = 0, busy = 0, capacity = 0, longest = 0;
  for (int size : slot_sizes) capacity += size * rank_flops;
  while (!events.empty()) {
    auto [time, slot, finished] = events.top();
    events.pop();
    if (finished >= 0) scheduler.finish(finished, RunOutcome::kDone);
    makespan = std::max(makespan, time);
    const int size = slot_sizes[size_t(slot)];
    if (auto run = scheduler.next_for(size)) {
      scheduler.start(*run);
      const double duration = flops[size_t(*run)] / (size * rank_flops) * jitters[size_t(*run)];
      busy += duration * size;
      events.push({time + duration, slot, *run});
    }
  }
  // The longest any run can take: on the largest slot it may use.
  const int largest = *std::max_element(slot_sizes.begin(), slot_sizes.end());
  double work = 0;
  for (size_t i = 0; i < flops.size(); ++i) {
    work += flops[i] * jitters[i];
    longest = std::max(longest, flops[i] / (largest * rank_flops) * jitters[i]);
  }
  return {makespan, work / capacity, longest, busy};
}

int main(int argc, char** argv) {
  std::string job_path = "jobs/chinchilla.toml", ranks_list = "64,512,4096";
  double rank_flops = 989e12 * 0.4, noise = 0.1;
  int trials = 20, node_ranks = 8;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--job")
      job_path = value;
    else if (flag == "--ranks")
      ranks_list = value;
    else if (flag == "--rank-flops")
      rank_flops = std::stod(value);
    else if (flag == "--noise")
      noise = std::stod(value);
    else if (flag == "--trials")
      trials = std::stoi(value);
    else if (flag == "--node-ranks")
      node_ranks = std::stoi(value);
  }
  const JobSpec job = load_job_file(job_path);
  const Grid grid = expand_grid(job);
  std::vector<double> flops;
  std::vector<int> ranks_needed;
  for (const RunSpec& run : grid.runs) {
    flops.push_back(run.flops);
    ranks_needed.push_back(int(job.resources.ranks_needed(run.params.total)));
  }
  std::string sizes;
  for (int64_t s : job.resources.slot_sizes) {
    if (!sizes.empty()) sizes.push_back(',');
    sizes.append(std::to_string(s));
  }
  std::printf(
      "%s: %zu runs, %.3g FLOPs; nodes of %d ranks cut into slots of [%s] ranks; %.3g FLOP/s "
      "per rank; run times x lognormal(0, %.2f); %d trials\n\n",
      job_path.c_str(), flops.size(), grid.total_flops(), node_ranks, sizes.c_str(), rank_flops,
      noise, trials);
  std::printf("%6s %6s %6s %13s %11s %12s %10s %12s  %s\n", "ranks", "slots", "idle",
              "makespan (h)", "work bound", "longest run", "efficiency", "rank usage", "bound by");
  std::mt19937_64 random(42);
  std::stringstream list(ranks_list);
  std::string item;
  while (std::getline(list, item, ',')) {
    const int ranks = std::stoi(item);
    // Node 0 gives rank 0 to the coordinator.
    std::vector<int> slot_sizes;
    int in_slots = 0;
    for (int node_start = 0; node_start < ranks; node_start += node_ranks) {
      const int workers = std::min(node_ranks, ranks - node_start) - (node_start == 0 ? 1 : 0);
      for (int size : cut_into_slots(workers, job.resources.slot_sizes)) {
        slot_sizes.push_back(size);
        in_slots += size;
      }
    }
    const int idle = ranks - 1 - in_slots;
    double makespan = 0, work = 0, longest = 0, efficiency = 0, usage = 0, worst = 1;
    for (int t = 0; t < trials; ++t) {
      const Outcome o = simulate(flops, ranks_needed, slot_sizes, rank_flops, noise, random);
      const double e = std::max(o.work_bound, o.longest_bound) / o.makespan;
      makespan += o.makespan / trials;
      work += o.work_bound / trials;
      longest += o.longest_bound / trials;
      efficiency += e / trials;
      usage += o.busy_rank_seconds / (o.makespan * ranks) / trials;
      worst = std::min(worst, e);
    }
    std::printf("%6d %6zu %6d %13.1f %11.1f %12.1f %10.3f %12.3f  %s (worst trial %.3f)\n", ranks,
                slot_sizes.size(), idle, makespan / 3600, work / 3600, longest / 3600, efficiency,
                usage, work > longest ? "total work" : "the longest run", worst);
  }
  return 0;
}
