#include "orchestrator/hardware_plan.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "model/counting.h"
#include "model/memory.h"
#include "spec/memory_plan.h"

namespace sweep {

double RunCostModel::seconds(int run, int ranks, int nodes) const {
  return double(steps[size_t(run)]) * step_time(work[size_t(run)], gpu, mfu, ranks, nodes).total();
}

double RunCostModel::ideal_seconds(int run, int ranks) const {
  return double(steps[size_t(run)]) * work[size_t(run)].flops /
         (double(std::max(1, ranks)) * gpu.peak_flops * mfu);
}

RunCostModel run_cost_model(const JobSpec& job, const Grid& grid, const Hardware& gpu, double mfu) {
  RunCostModel c;
  c.gpu = gpu;
  c.mfu = mfu;
  const bool sharded_parameters = job.resources.sharding == Sharding::kParameters;
  for (const RunSpec& run : grid.runs) {
    StepWork w;
    // Activation checkpointing recomputes each block's forward in backward:
    // about 4/3 of the step's FLOPs (2 of the 6 per parameter and token again).
    w.flops = training_flops_per_token(run.model, FlopConvention::kChinchilla) *
              double(job.train.batch_tokens) * (job.train.activation_checkpointing ? 4.0 / 3 : 1.0);
    w.params = double(run.params.total);
    w.batch_tokens = job.train.batch_tokens;
    w.micro_batch_tokens = job.train.micro_batch_tokens;
    w.passes = sharded_parameters ? 3 : 2;
    c.work.push_back(w);
    c.steps.push_back(run.steps);
  }
  return c;
}

LayoutRequest layout_request(const JobSpec& job, bool nested) {
  LayoutRequest r;
  r.slot_sizes = job.resources.slot_sizes;
  r.nested = nested;
  r.batch_sequences = job.train.batch_tokens / job.data.seq_len;
  r.micro_sequences = job.train.micro_batch_tokens / job.data.seq_len;
  r.max_nodes = job.resources.max_nodes_per_run;
  return r;
}

const Hardware& job_hardware(const JobSpec& job) {
  const Hardware* gpu = find_hardware(job.resources.gpu);
  return gpu ? *gpu : hardware_table()[1];  // the job spec allows only the table's names
}

int fewest_ranks_that_fit(const JobSpec& job, const RunSpec& run, double memory_per_rank,
                          const std::vector<int>& sizes, bool cuda) {
  for (int ranks : sizes)
    if (choose_sharding(job, run, ranks, memory_per_rank, cuda).fits) return ranks;
  return 0;
}

std::vector<std::pair<int, int>> group_sizes(const std::vector<SlotGroup>& groups) {
  std::map<int, int> nodes;
  for (const SlotGroup& g : groups) nodes[g.size()] = std::max(nodes[g.size()], g.nodes);
  return {nodes.begin(), nodes.end()};
}

std::vector<double> run_ranks_seconds(const RunCostModel& cost,
                                      const std::vector<SlotGroup>& groups,
                                      const std::vector<int>& run_ranks) {
  std::map<int, int> nodes;
  for (const auto& [size, span] : group_sizes(groups)) nodes[size] = span;
  std::vector<double> seconds;
  for (size_t i = 0; i < run_ranks.size(); ++i)
    seconds.push_back(cost.seconds(int(i), run_ranks[i], nodes[run_ranks[i]]));
  return seconds;
}

std::vector<int> runs_ranks_needed(const JobSpec& job, const Grid& grid,
                                   const std::vector<SlotGroup>& groups, double memory_per_rank,
                                   bool cuda) {
  std::vector<int> sizes;
  for (const auto& [size, nodes] : group_sizes(groups)) sizes.push_back(size);
  std::vector<int> needed;
  for (const RunSpec& run : grid.runs) {
    int ranks = int(job.resources.ranks_needed(run.params.total));
    if (memory_per_rank > 0) {
      const int fit = fewest_ranks_that_fit(job, run, memory_per_rank, sizes, cuda);
      ranks = fit == 0 ? 0 : std::max(ranks, fit);
    }
    needed.push_back(ranks);
  }
  return needed;
}

}  // namespace sweep
