// `sweepd plan JOB --gpu a100|h100|h200 --gpus G [--mfu M]`: the sweep on
// that hardware. Each run's time on the group the scheduler's policy gives it
// (model/hardware.h's efficiency model; orchestrator/hardware_plan.h), and the
// whole sweep's makespan from the schedule simulator (the scheduler's own
// code, orchestrator/schedule_sim.h) on G GPUs in nodes of the vendor's size,
// in wall time and GPU-hours. Memory per GPU is the job's
// resources.memory_per_rank, or the GPU's; runs that fit no group in it are
// planned on the largest and named.

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/format.h"
#include "common/log.h"
#include "common/table.h"
#include "model/memory.h"
#include "orchestrator/commands.h"
#include "orchestrator/hardware_plan.h"
#include "orchestrator/schedule_sim.h"
#include "spec/grid.h"

namespace sweep {
namespace {

std::string policy_text(const JobSpec& job, bool auto_slots) {
  if (auto_slots) return "ranks_per_run = \"auto\" (nested groups sized per run)";
  std::string sizes;
  for (int64_t s : job.resources.slot_sizes) sizes += (sizes.empty() ? "" : ", ") + std::to_string(s);
  return "ranks_per_run = " + (job.resources.slot_sizes.size() == 1 ? sizes : "[" + sizes + "]") +
         " (fixed slots inside nodes)";
}

std::string hours_text(double seconds) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.1f h", seconds / 3600);
  return text;
}

}  // namespace

int plan_on_hardware(const PlanOptions& options) {
  const JobSpec job = load_job_file(options.job_path);
  const Grid grid = expand_grid(job);
  const std::string gpu_name = options.gpu.empty() ? job.resources.gpu : options.gpu;
  const Hardware* gpu = find_hardware(gpu_name);
  if (!gpu) throw UserError("--gpu " + gpu_name + ": unknown; one of " + hardware_names());
  const int gpus = options.gpus > 0 ? options.gpus : gpu->gpus_per_node;
  const double mfu = options.mfu > 0 ? options.mfu : kDefaultMfu;
  const double memory =
      job.resources.memory_per_rank > 0 ? job.resources.memory_per_rank : gpu->memory_bytes;
  const RunCostModel cost = run_cost_model(job, grid, *gpu, mfu);
  const bool auto_slots = job.resources.auto_slots;
  const SweepSimulation sim =
      simulate_sweep(job, grid, cost, gpus, gpu->gpus_per_node, auto_slots, memory);
  if (sim.groups.empty()) {
    job.fail("resources.ranks_per_run", std::to_string(gpus) + " " + gpu->name +
                                            " GPUs in nodes of " +
                                            std::to_string(gpu->gpus_per_node) + " form no slot");
  }
  // What the other policy would give, for a job on fixed slots.
  std::optional<SweepSimulation> other;
  if (!auto_slots) other = simulate_sweep(job, grid, cost, gpus, gpu->gpus_per_node, true, memory);

  const double makespan = sim.schedule.makespan;
  const double gpu_hours = makespan / 3600 * gpus;
  const double busy_gpu_hours = sim.schedule.busy_rank_seconds / 3600;
  std::vector<std::string> misfits;
  for (size_t i = 0; i < grid.runs.size(); ++i)
    if (sim.ranks_needed[i] == 0) misfits.push_back(grid.runs[i].run_id);
  const int nodes = (gpus + gpu->gpus_per_node - 1) / gpu->gpus_per_node;

  if (options.json) {
    nlohmann::json out;
    out["job"] = job.path;
    out["hardware"] = {{"gpu", gpu->name},
                       {"label", gpu->label},
                       {"gpus", gpus},
                       {"gpus_per_node", gpu->gpus_per_node},
                       {"nodes", nodes},
                       {"peak_flops", gpu->peak_flops},
                       {"memory_per_gpu", memory},
                       {"mfu", mfu}};
    out["policy"] = auto_slots ? "auto" : "fixed";
    out["runs"] = nlohmann::json::array();
    for (size_t i = 0; i < grid.runs.size(); ++i) {
      const SimulatedRun& r = sim.schedule.runs[i];
      const SlotGroup& g = sim.groups[size_t(r.group)];
      const double ideal = cost.ideal_seconds(int(i), g.size());
      out["runs"].push_back({{"run_id", grid.runs[i].run_id},
                             {"flops", grid.runs[i].flops},
                             {"ranks", g.size()},
                             {"nodes", g.nodes},
                             {"efficiency", ideal / (r.end - r.start)},
                             {"est_seconds", r.end - r.start},
                             {"start_seconds", r.start},
                             {"end_seconds", r.end},
                             {"fits_memory", sim.ranks_needed[i] != 0}});
    }
    out["totals"] = {{"makespan_seconds", makespan},
                     {"gpu_hours", gpu_hours},
                     {"gpu_hours_in_runs", busy_gpu_hours},
                     {"bound_ideal_seconds", sim.work_bound_ideal},
                     {"bound_modelled_seconds", sim.work_bound_modelled}};
    if (other)
      out["auto"] = {{"makespan_seconds", other->schedule.makespan},
                     {"gpu_hours", other->schedule.makespan / 3600 * gpus}};
    std::cout << out.dump(2) << '\n';
    return 0;
  }

  std::printf("sweep %s (%s): %zu runs, %s FLOPs on %d x %s (%d node%s of %d) at %.0f%% MFU, %s "
              "per GPU; %s\n\n",
              job.sweep.name.c_str(), job.path.c_str(), grid.runs.size(),
              format_sci(grid.total_flops()).c_str(), gpus, gpu->label.c_str(), nodes,
              nodes == 1 ? "" : "s", gpu->gpus_per_node, mfu * 100, format_bytes(memory).c_str(),
              policy_text(job, auto_slots).c_str());
  TextTable table({"run", "budget", "N", "D", "FLOPs", "GPUs", "nodes", "DP eff.", "est. time",
                   "starts", "ends"});
  for (size_t i = 0; i < grid.runs.size(); ++i) {
    const RunSpec& run = grid.runs[i];
    const SimulatedRun& r = sim.schedule.runs[i];
    const SlotGroup& g = sim.groups[size_t(r.group)];
    char efficiency[16];
    std::snprintf(efficiency, sizeof(efficiency), "%.2f",
                  cost.ideal_seconds(int(i), g.size()) / (r.end - r.start));
    table.add_row({run.run_id, run.budget > 0 ? format_sci(run.budget) : "-",
                   format_count(double(run.params.total)), format_count(double(run.tokens)),
                   format_sci(run.flops), std::to_string(g.size()), std::to_string(g.nodes),
                   efficiency, format_duration(r.end - r.start), hours_text(r.start),
                   hours_text(r.end)});
  }
  table.print(std::cout);
  std::printf("\nmakespan %s (%s) wall on %d GPUs: %s GPU-hours (%s in runs, rank usage %.2f)\n",
              format_duration(makespan).c_str(), hours_text(makespan).c_str(), gpus,
              format_count(gpu_hours).c_str(), format_count(busy_gpu_hours).c_str(),
              busy_gpu_hours / gpu_hours);
  std::printf("bounds: %s ideal (FLOPs / (GPUs x peak x MFU)), %s under the efficiency model "
              "on these groups; longest run %s\n",
              hours_text(sim.work_bound_ideal).c_str(),
              hours_text(sim.work_bound_modelled).c_str(), hours_text(sim.longest_run).c_str());
  if (other) {
    std::printf("with ranks_per_run = \"auto\": makespan %s (%s), %s GPU-hours\n",
                format_duration(other->schedule.makespan).c_str(),
                hours_text(other->schedule.makespan).c_str(),
                format_count(other->schedule.makespan / 3600 * gpus).c_str());
  }
  std::printf(
      "est. time: steps x (compute at peak x MFU, slower when a GPU's micro-batch is under %.0f "
      "tokens, + a ring all-reduce of fp32 gradients, not overlapped); DP eff. = ideal / est. "
      "(docs/cluster.md)\n",
      kFullRateTokens);
  std::fflush(stdout);
  if (!misfits.empty()) {
    std::string names;
    for (size_t i = 0; i < misfits.size() && i < 4; ++i) names += (i ? ", " : "") + misfits[i];
    if (misfits.size() > 4) names += ", ...";
    log_warn(std::to_string(misfits.size()) + " run" + (misfits.size() == 1 ? "" : "s") +
             " fit no group in " + format_bytes(memory) + " per GPU (" + names +
             "), planned on the largest; set train.activation_checkpointing = true, "
             "resources.sharding or a smaller train.micro_batch_tokens");
  }
  return 0;
}

}  // namespace sweep
