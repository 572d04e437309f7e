// bench/schedule: the scheduler's policy (orchestrator/scheduler.h, the same
// code rank 0 runs) on a simulated cluster (orchestrator/schedule_sim.h), for
// a job at several cluster sizes, before and after slots could span nodes:
//
//   fixed   the job's resources.ranks_per_run as fixed node-local slots
//           (chinchilla.toml: one slot of 8 GPUs per node);
//   auto    ranks_per_run = "auto": nested groups of 1, 2, 4 ... GPUs and of
//           2, 4, ... nodes, each run's group sized by the efficiency model.
//
// Each run takes its modelled time on its group (model/hardware.h: batch
// limit, thin micro-batches, ring all-reduce over NVLink or the network) times
// lognormal noise. The bound is ideal: the sweep's FLOPs at peak · MFU on
// every GPU, without communication. It prints makespan / bound, the rank
// usage (GPU time in runs / (makespan · GPUs)) and the longest run on the
// largest group it may use.
//
//   bench_schedule [--job jobs/chinchilla.toml] [--gpus 64,512,4096] [--gpu h100]
//                  [--mfu 0.4] [--noise 0.1] [--trials 20]

#include <cstdio>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "model/hardware.h"
#include "orchestrator/hardware_plan.h"
#include "orchestrator/schedule_sim.h"
#include "spec/grid.h"
#include "spec/job_spec.h"

using namespace sweep;

int main(int argc, char** argv) {
  std::string job_path = "jobs/chinchilla.toml", gpus_list = "64,512,4096", gpu_name = "h100";
  double mfu = 0.4, noise = 0.1;
  int trials = 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--job")
      job_path = value;
    else if (flag == "--gpus")
      gpus_list = value;
    else if (flag == "--gpu")
      gpu_name = value;
    else if (flag == "--mfu")
      mfu = std::stod(value);
    else if (flag == "--noise")
      noise = std::stod(value);
    else if (flag == "--trials")
      trials = std::stoi(value);
    else if (flag == "--memory")
      continue;
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  const Hardware* gpu = find_hardware(gpu_name);
  if (!gpu) {
    std::fprintf(stderr, "unknown --gpu %s (%s)\n", gpu_name.c_str(), hardware_names().c_str());
    return 2;
  }
  const JobSpec job = load_job_file(job_path);
  const Grid grid = expand_grid(job);
  const RunCostModel cost = run_cost_model(job, grid, *gpu, mfu);
  // Memory only with --memory (bytes per GPU): sizes then also follow the
  // memory model, which the chinchilla job (no activation checkpointing)
  // fails for its largest runs on any group.
  double memory = 0;
  for (int i = 1; i + 1 < argc; i += 2)
    if (std::string(argv[i]) == "--memory") memory = std::stod(argv[i + 1]);
  std::string sizes;
  for (int64_t s : job.resources.slot_sizes) sizes += (sizes.empty() ? "" : ",") + std::to_string(s);
  std::printf(
      "%s: %zu runs, %.3g FLOPs; %s (%d per node) at %.0f%% MFU; fixed slots of [%s]; run "
      "times x lognormal(0, %.2f); %d trials\n\n",
      job_path.c_str(), grid.runs.size(), grid.total_flops(), gpu->label.c_str(),
      gpu->gpus_per_node, mfu * 100, sizes.c_str(), noise, trials);
  std::printf("%6s %6s %7s %13s %10s %9s %10s %9s %11s %12s\n", "GPUs", "slots", "groups",
              "makespan (h)", "ideal (h)", "/ideal", "model (h)", "/model", "rank usage",
              "longest (h)");
  std::mt19937_64 random(42);
  std::lognormal_distribution<double> jitter(0.0, noise);
  std::stringstream list(gpus_list);
  std::string item;
  while (std::getline(list, item, ',')) {
    const int gpus = std::stoi(item);
    for (bool auto_slots : {false, true}) {
      // The policy sizes groups from the model alone, once (as rank 0 does).
      const std::vector<int> run_ranks =
          simulate_sweep(job, grid, cost, gpus, gpu->gpus_per_node, auto_slots, memory).run_ranks;
      double makespan = 0, ideal = 0, model = 0, to_ideal = 0, to_model = 0, usage = 0,
             longest = 0, worst = 0;
      size_t groups = 0;
      for (int t = 0; t < trials; ++t) {
        std::vector<double> factors(grid.runs.size());
        for (double& f : factors) f = jitter(random);
        const SweepSimulation sim = simulate_sweep(job, grid, cost, gpus, gpu->gpus_per_node,
                                                   auto_slots, memory, factors, run_ranks);
        groups = sim.groups.size();
        makespan += sim.schedule.makespan / trials;
        ideal += sim.work_bound_ideal / trials;
        model += sim.work_bound_modelled / trials;
        to_ideal += sim.schedule.makespan / sim.work_bound_ideal / trials;
        to_model += sim.schedule.makespan / sim.work_bound_modelled / trials;
        worst = std::max(worst, sim.schedule.makespan / sim.work_bound_modelled);
        usage += sim.schedule.busy_rank_seconds / (sim.schedule.makespan * gpus) / trials;
        longest += sim.longest_run / trials;
      }
      std::printf("%6d %6s %7zu %13.1f %10.1f %9.3f %10.1f %9.3f %11.3f %12.1f\n", gpus,
                  auto_slots ? "auto" : "fixed", groups, makespan / 3600, ideal / 3600, to_ideal,
                  model / 3600, to_model, usage, longest / 3600);
      (void)worst;
    }
  }
  std::printf(
      "\nideal: FLOPs / (GPUs x peak x MFU); model: the lowest max(GPU-seconds / GPUs, longest "
      "run) over group sizes under the efficiency model; means over trials\n");
  return 0;
}
