// The data-parallel efficiency model (model/hardware.h), the "auto" policy's
// group sizes (orchestrator/hardware_plan.h) and the schedule simulator on
// jobs/chinchilla.toml (orchestrator/schedule_sim.h).

#include <gtest/gtest.h>

#include <cmath>

#include "model/hardware.h"
#include "orchestrator/hardware_plan.h"
#include "orchestrator/schedule_sim.h"
#include "spec/grid.h"
#include "spec/job_spec.h"

namespace sweep {
namespace {

StepWork billion_parameter_step() {
  StepWork w;
  w.params = 1e9;
  w.flops = 6 * 1e9 * 524288;  // 6 N per token, 524,288 tokens
  w.batch_tokens = 524288;
  w.micro_batch_tokens = 16384;
  return w;
}

TEST(Hardware, TableHasTheDatasheetNumbers) {
  const Hardware* h100 = find_hardware("H100");
  ASSERT_NE(h100, nullptr);
  EXPECT_EQ(h100->peak_flops, 989e12);
  EXPECT_EQ(h100->memory_bytes, 80e9);
  EXPECT_EQ(find_hardware("a100")->peak_flops, 312e12);
  EXPECT_EQ(find_hardware("h200")->memory_bytes, 141e9);
  EXPECT_EQ(find_hardware("v100"), nullptr);
  EXPECT_EQ(hardware_names(), "a100, h100, h200");
}

TEST(Hardware, OneRankHasNoCommunicationAndRunsAtTheGivenMfu) {
  const Hardware& h100 = *find_hardware("h100");
  const StepTime t = step_time(billion_parameter_step(), h100, 0.4, 1, 1);
  EXPECT_EQ(t.communication, 0);
  EXPECT_NEAR(t.compute, 6 * 1e9 * 524288 / (989e12 * 0.4), 1e-9);
  EXPECT_DOUBLE_EQ(data_parallel_efficiency(billion_parameter_step(), h100, 0.4, 1, 1), 1.0);
}

TEST(Hardware, RingAllReduceMovesTwiceTheGradientsOverTheBusBandwidth) {
  const Hardware& h100 = *find_hardware("h100");
  const StepWork w = billion_parameter_step();
  // 8 GPUs in a node: 2 · 7/8 · 4 bytes · 1e9 over 0.8 · 450 GB/s.
  const double inside = 2 * 7.0 / 8 * 4e9 / (kLinkEfficiency * 450e9);
  EXPECT_NEAR(step_time(w, h100, 0.4, 8, 1).communication, inside, 1e-12);
  // 2 nodes of 8: the rings share the 8 NICs of 50 GB/s: min(450, 400) GB/s.
  const double across = 2 * 15.0 / 16 * 4e9 / (kLinkEfficiency * 400e9);
  EXPECT_NEAR(step_time(w, h100, 0.4, 16, 2).communication, across, 1e-12);
  // Sharded parameters add an all-gather: 3 volumes instead of 2.
  StepWork sharded = w;
  sharded.passes = 3;
  EXPECT_NEAR(step_time(sharded, h100, 0.4, 8, 1).communication, 1.5 * inside, 1e-12);
}

TEST(Hardware, EfficiencyFallsWithRanksAndThinMicroBatches) {
  const Hardware& h100 = *find_hardware("h100");
  const StepWork w = billion_parameter_step();
  double previous = 1.0;
  for (int ranks : {2, 8, 32, 128, 256}) {
    const int nodes = std::max(1, ranks / 8);
    const double e = data_parallel_efficiency(w, h100, 0.4, ranks, nodes);
    EXPECT_LT(e, previous) << ranks << " ranks";
    EXPECT_GT(e, 0) << ranks << " ranks";
    previous = e;
  }
  // 1024 tokens per forward: half the full-rate tokens, sqrt(1/2) of the rate.
  StepWork thin = w;
  thin.batch_tokens = 1024;
  thin.micro_batch_tokens = 0;
  thin.flops = 6e9 * 1024;
  thin.params = 0;
  const StepTime t = step_time(thin, h100, 0.4, 1, 1);
  EXPECT_NEAR(t.compute, 6e9 * 1024 / (989e12 * 0.4 * std::sqrt(0.5)), 1e-12);
}

class ChinchillaPlan : public ::testing::Test {
 protected:
  void SetUp() override {
    job_ = load_job_file(std::string(SWEEP_SOURCE_DIR) + "/jobs/chinchilla.toml");
    grid_ = expand_grid(job_);
    cost_ = run_cost_model(job_, grid_, *find_hardware("h100"), 0.4);
  }
  JobSpec job_;
  Grid grid_;
  RunCostModel cost_;
};

TEST_F(ChinchillaPlan, AutoGivesTheLargestRunsTheLargestGroups) {
  const std::vector<SlotGroup> groups =
      make_groups(cluster_nodes(512, 8), layout_request(job_, /*nested=*/true));
  const std::vector<int> needed(grid_.runs.size(), 1);
  const std::vector<int> ranks = choose_run_ranks(cost_, groups, needed);
  size_t largest = 0, smallest = 0;
  for (size_t i = 0; i < grid_.runs.size(); ++i) {
    if (grid_.runs[i].flops > grid_.runs[largest].flops) largest = i;
    if (grid_.runs[i].flops < grid_.runs[smallest].flops) smallest = i;
  }
  EXPECT_GT(ranks[largest], 8) << "the largest run spans nodes";
  EXPECT_EQ(ranks[smallest], 1) << "the smallest run fills one GPU";
}

TEST_F(ChinchillaPlan, AutoKeepsTheMakespanWithin115PercentOfTheModelledBound) {
  for (int gpus : {512, 4096}) {
    const SweepSimulation fixed = simulate_sweep(job_, grid_, cost_, gpus, 8, false, 0);
    const SweepSimulation nested = simulate_sweep(job_, grid_, cost_, gpus, 8, true, 0);
    // Without memory (0): the schedule alone; the bound is what no schedule
    // on the nested groups beats under the efficiency model.
    const double before = fixed.schedule.makespan / fixed.work_bound_ideal;
    const double after = nested.schedule.makespan / nested.work_bound_modelled;
    std::printf("%d GPUs: makespan / ideal bound %.3f fixed, %.3f auto (%.3f of the modelled)\n",
                gpus, before, nested.schedule.makespan / nested.work_bound_ideal, after);
    EXPECT_LT(after, 1.15) << gpus << " GPUs";
    EXPECT_LT(nested.schedule.makespan, fixed.schedule.makespan) << gpus << " GPUs";
    // Every run is scheduled exactly once, on a group of its size.
    for (size_t i = 0; i < grid_.runs.size(); ++i) {
      const SimulatedRun& r = nested.schedule.runs[i];
      ASSERT_GE(r.group, 0);
      EXPECT_EQ(nested.groups[size_t(r.group)].size(), nested.run_ranks[i]);
    }
  }
}

}  // namespace
}  // namespace sweep
