// bench/schedule: the scheduler's policy (orchestrator/scheduler.h, the same
// code rank 0 runs) driven by a discrete-event simulation instead of MPI.
//
// A job's grid is expanded as sweepd would; slots of ranks_per_run ranks train
// runs at ranks_per_run x the per-rank rate, with log-normal noise on each
// run's time. For each number of ranks it prints the makespan over the lower
// bound max(total work / capacity, longest run), where capacity counts the
// ranks in slots (rank 0 coordinates; ranks that fill no slot are reported).
//
//   bench_schedule [--job jobs/chinchilla.toml] [--ranks 64,512,4096]
//                  [--rank-flops 3.96e14] [--noise 0.1] [--trials 20]

#include <algorithm>
#include <cstdio>
#include <queue>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "orchestrator/grid.h"
#include "orchestrator/job_spec.h"
#include "orchestrator/scheduler.h"

using namespace sweep;

struct Outcome {
  double makespan, work_bound, longest_bound;
};

Outcome simulate(const std::vector<double>& flops, int slots, double slot_rate, double noise,
                 std::mt19937_64& random) {
  std::lognormal_distribution<double> jitter(0.0, noise);
  std::vector<double> duration(flops.size());
  for (size_t i = 0; i < flops.size(); ++i) duration[i] = flops[i] / slot_rate * jitter(random);
  Scheduler scheduler(flops, std::vector<RunState>(flops.size(), RunState::kPending));
  // Events: (time a slot becomes idle, slot, run it finished or -1).
  using Event = std::tuple<double, int, int>;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events;
  for (int s = 0; s < slots; ++s) events.push({0.0, s, -1});
  double makespan = 0;
  while (!events.empty()) {
    auto [time, slot, finished] = events.top();
    events.pop();
    if (finished >= 0) scheduler.transition(finished, RunEvent::kFinish);
    makespan = std::max(makespan, time);
    if (auto run = scheduler.next_for(1)) {
      scheduler.transition(*run, RunEvent::kStart);
      events.push({time + duration[size_t(*run)], slot, *run});
    }
  }
  double total = 0, longest = 0;
  for (double d : duration) {
    total += d;
    longest = std::max(longest, d);
  }
  return {makespan, total / slots, longest};
}

int main(int argc, char** argv) {
  std::string job_path = "jobs/chinchilla.toml", ranks_list = "64,512,4096";
  double rank_flops = 989e12 * 0.4, noise = 0.1;
  int trials = 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--job") job_path = value;
    else if (flag == "--ranks") ranks_list = value;
    else if (flag == "--rank-flops") rank_flops = std::stod(value);
    else if (flag == "--noise") noise = std::stod(value);
    else if (flag == "--trials") trials = std::stoi(value);
  }
  const JobSpec job = load_job_file(job_path);
  const Grid grid = expand_grid(job);
  std::vector<double> flops;
  for (const RunSpec& run : grid.runs) flops.push_back(run.flops);
  const int per_slot = int(job.resources.ranks_per_run);
  std::printf("%s: %zu runs, %.3g FLOPs; slots of %d ranks at %.3g FLOP/s per rank; run times x "
              "lognormal(0, %.2f); %d trials\n\n",
              job_path.c_str(), flops.size(), grid.total_flops(), per_slot, rank_flops, noise, trials);
  std::printf("%6s %6s %6s %13s %11s %12s %10s %12s  %s\n", "ranks", "slots", "idle", "makespan (h)",
              "work bound", "longest run", "efficiency", "rank usage", "bound by");
  std::mt19937_64 random(42);
  std::stringstream list(ranks_list);
  std::string item;
  while (std::getline(list, item, ',')) {
    const int ranks = std::stoi(item);
    const int slots = (ranks - 1) / per_slot;
    const int idle = ranks - 1 - slots * per_slot;
    double makespan = 0, work = 0, longest = 0, efficiency = 0, worst = 1;
    for (int t = 0; t < trials; ++t) {
      const Outcome o = simulate(flops, slots, per_slot * rank_flops, noise, random);
      const double e = std::max(o.work_bound, o.longest_bound) / o.makespan;
      makespan += o.makespan / trials;
      work += o.work_bound / trials;
      longest += o.longest_bound / trials;
      efficiency += e / trials;
      worst = std::min(worst, e);
    }
    // Share of all ranks' time spent training (rank 0 and slot-less ranks count as idle).
    const double usage = work * slots * per_slot / (makespan * ranks);
    std::printf("%6d %6d %6d %13.1f %11.1f %12.1f %10.3f %12.3f  %s (worst trial %.3f)\n", ranks, slots,
                idle, makespan / 3600, work / 3600, longest / 3600, efficiency, usage,
                work > longest ? "total work" : "the longest run", worst);
  }
  return 0;
}
