// sweepd under mpirun on this machine: rank 0 coordinates, the others train.
// The same tiny study as test_run.cc, checked against the one-process result,
// killed with SIGKILL at random points and resumed, stopped with SIGTERM, and
// watched with `sweepd status` while it runs.

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "sweep_fixture.h"
#include "tuning_job.h"

namespace sweep {
namespace {

class MpiSweep : public SweepFixture {
 protected:
  void use_mpirun(int ranks) {
    launcher_ = {MPIRUN, "--oversubscribe",    "--allow-run-as-root", "--bind-to", "none",
                 "-np",  std::to_string(ranks)};
  }
  std::map<std::string, double> final_losses(const std::string& path) const {
    std::map<std::string, double> losses;
    SweepStore store = SweepStore::open_read_only(path);
    for (const RunInfo& run : store.runs())
      losses[run.run_id] = store.progress(run.index).final_eval_loss;
    return losses;
  }
  std::string run_capture(const std::string& command) const {
    std::string out;
    FILE* pipe = popen(command.c_str(), "r");
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) out.append(buffer, n);
    pclose(pipe);
    return out;
  }
};

TEST_F(MpiSweep, TwoSlotsGiveTheOneProcessResults) {
  ASSERT_EQ(wait_exit(start({job_, "--output", dir_ + "/one.h5"})), 0) << log();
  use_mpirun(3);
  ASSERT_EQ(wait_exit(start({job_})), 0) << log();
  expect_complete_study();
  const auto one = final_losses(dir_ + "/one.h5"), many = final_losses(output_);
  ASSERT_EQ(one.size(), many.size());
  for (const auto& [run, loss] : one) {
    // Same seeds, one thread per rank either way: the same arithmetic.
    EXPECT_NEAR(many.at(run), loss, 1e-6) << run;
  }
  EXPECT_NE(log().find("2 slots (2 of 1 rank)"), std::string::npos) << log();
}

TEST_F(MpiSweep, OneSlotOfTwoRanksTrainsDataParallel) {
  ASSERT_EQ(wait_exit(start({job_, "--output", dir_ + "/one.h5"})), 0) << log();
  add_resources("ranks_per_run = 2\n");
  use_mpirun(3);
  ASSERT_EQ(wait_exit(start({job_})), 0) << log();
  expect_complete_study();
  const auto one = final_losses(dir_ + "/one.h5"), split = final_losses(output_);
  for (const auto& [run, loss] : one) {
    // Gradients summed in another order: equal within float tolerance.
    EXPECT_NEAR(split.at(run), loss, 2e-3) << run;
  }
}

TEST_F(MpiSweep, SlotsOfTwoSizesTakeTheRunsTheyFit) {
  // 4 ranks: the coordinator and 3 workers cut into a slot of 2 and one of 1;
  // runs of >= 6000 parameters need the slot of 2.
  add_resources("ranks_per_run = [2, 1]\nlarge_runs = [{ params = 6000, ranks = 2 }]\n");
  use_mpirun(4);
  ASSERT_EQ(wait_exit(start({job_})), 0) << log();
  expect_complete_study();
  EXPECT_NE(log().find("2 slots (1 of 1 rank, 1 of 2 ranks)"), std::string::npos) << log();
  // Asking for more than the layout has is an error before any training.
  replace_in_job("large_runs = [{ params = 6000, ranks = 2 }]",
                 "large_runs = [{ params = 6000, ranks = 2 }]\n");
  use_mpirun(2);  // one worker: a single slot of 1
  EXPECT_EQ(wait_exit(start({job_, "--output", dir_ + "/small.h5"})), 2) << log();
  EXPECT_NE(log().find("needs a slot of 2 ranks, but the largest slot this job got has 1"),
            std::string::npos)
      << log();
}

TEST_F(MpiSweep, AutoGroupsTrainTheBigRunAcrossNodesAndSmallRunsOnSingleRanks) {
  // 9 ranks as 2 "nodes" of 4 workers (SWEEP_RANKS_PER_NODE) + the
  // coordinator: groups of 1, 2 and 4 ranks inside a node and one of 8 over
  // both. The largest runs (>= 1e4 parameters) need 8 ranks; the others are
  // too small to gain from more than one (the efficiency model).
  ASSERT_EQ(wait_exit(start({job_, "--output", dir_ + "/one.h5"})), 0) << log();
  add_resources("ranks_per_run = \"auto\"\nlarge_runs = [{ params = 1e4, ranks = 8 }]\n");
  ::setenv("SWEEP_RANKS_PER_NODE", "4", 1);
  use_mpirun(9);
  const int code = wait_exit(start({job_}));
  ::unsetenv("SWEEP_RANKS_PER_NODE");
  ASSERT_EQ(code, 0) << log();
  expect_complete_study();
  const std::string text = log();
  EXPECT_NE(text.find("nested groups on 2 nodes: 8 of 1 rank, 4 of 2 ranks, 2 of 4 ranks, 1 of "
                      "8 ranks (2 nodes)"),
            std::string::npos)
      << text;
  // Every run's placement is logged: the two largest on both nodes, the rest on one rank.
  SweepStore store = SweepStore::open_read_only(output_);
  int across = 0, single = 0;
  for (const RunInfo& run : store.runs()) {
    const auto at = text.find(run.run_id + " attempt 1 on group");
    ASSERT_NE(at, std::string::npos) << run.run_id << "\n" << text;
    const std::string line = text.substr(at, text.find('\n', at) - at);
    if (run.params_total >= 1e4) {
      EXPECT_NE(line.find("8 ranks on 2 nodes (world ranks 1-8)"), std::string::npos) << line;
      ++across;
    } else {
      EXPECT_NE(line.find(": 1 rank on 1 node"), std::string::npos) << line;
      ++single;
    }
  }
  EXPECT_GT(across, 0);
  EXPECT_GT(single, 0);
  // Data parallel over 8 ranks keeps the global batch: the curves match one rank's.
  const auto one = final_losses(dir_ + "/one.h5"), many = final_losses(output_);
  for (const auto& [run, loss] : one) EXPECT_NEAR(many.at(run), loss, 2e-3) << run;
}

TEST_F(MpiSweep, KilledAtRandomPointsResumesToTheSameRunSet) {
  // Long enough (~8 s on 2 cores) that every kill lands mid-study.
  replace_in_job("budgets = [3e9, 1e10]", "budgets = [1e10, 3e10]");
  use_mpirun(3);
  std::mt19937 random(testing_helpers::test_seed());
  for (int kill = 0; kill < 4; ++kill) {
    const int after_ms = std::uniform_int_distribution<int>(1500, 5000)(random);
    std::printf("SIGKILL to the MPI job after %d ms\n", after_ms);
    std::fflush(stdout);
    const pid_t pid = start({job_});
    std::this_thread::sleep_for(std::chrono::milliseconds(after_ms));
    kill_all(pid);
  }
  ASSERT_EQ(wait_exit(start({job_})), 0) << log();
  expect_complete_study();
}

TEST_F(MpiSweep, SigtermToMpirunStopsCleanlyAndResumes) {
  replace_in_job("budgets = [3e9, 1e10]", "budgets = [1e10, 3e10]");
  use_mpirun(3);
  const pid_t pid = start({job_});
  std::this_thread::sleep_for(std::chrono::milliseconds(4000));
  const auto sent = std::chrono::steady_clock::now();
  ::kill(pid, SIGTERM);
  wait_exit(pid);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - sent).count();
  EXPECT_LT(seconds, 60.0);
  EXPECT_NE(log().find("runs checkpointed; rerun the same command to resume"), std::string::npos) << log();
  ::kill(-pid, SIGKILL);  // nothing may be left; a leftover rank would hold the lock
  ASSERT_EQ(wait_exit(start({job_})), 0) << log();
  expect_complete_study();
}

TEST_F(MpiSweep, StatusReadsTheFileWhileTheSweepRuns) {
  replace_in_job("budgets = [3e9, 1e10]", "budgets = [1e10, 3e10]");
  use_mpirun(3);
  const pid_t pid = start({job_});
  nlohmann::json status;
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const std::string out =
        run_capture(std::string(SWEEPD_BINARY) + " status --json " + output_ + " 2>/dev/null");
    if (out.empty()) continue;
    status = nlohmann::json::parse(out);
    if (status["runs"]["running"].get<int>() > 0 && status["flops_done"].get<double>() > 0) break;
  }
  EXPECT_EQ(wait_exit(pid), 0) << log();
  ASSERT_FALSE(status.is_null()) << "status never read the live file";
  EXPECT_GT(status["runs"]["running"].get<int>(), 0) << status.dump();
  EXPECT_GT(status["flops_done"].get<double>(), 0) << status.dump();
  EXPECT_LT(status["flops_done"].get<double>(), status["flops_total"].get<double>())
      << status.dump();
}

TEST_F(MpiSweep, TunedJobMakesTheOneProcessChoiceAndTrainsTheGridWithIt) {
  for (const auto& [from, to] : kTuneEdits) replace_in_job(from, to);
  ASSERT_EQ(wait_exit(start({job_, "--output", dir_ + "/one.h5"})), 0) << log();
  use_mpirun(3);
  ASSERT_EQ(wait_exit(start({job_})), 0) << log();
  SweepStore one = SweepStore::open_read_only(dir_ + "/one.h5");
  SweepStore many = SweepStore::open_read_only(output_);
  const int best = best_candidate(many);
  ASSERT_GE(best, 0);
  EXPECT_EQ(best_candidate(one), best);
  ASSERT_EQ(one.runs().size(), many.runs().size());
  for (size_t i = 0; i < many.runs().size(); ++i) {
    const RunInfo& run = many.runs()[i];
    EXPECT_EQ(run.recipe, run.role == "tune" ? one.runs()[i].recipe : best) << run.run_id;
    EXPECT_EQ(run.lr, one.runs()[i].lr) << run.run_id;
    // Two slots of one thread each: the same arithmetic as one process.
    EXPECT_NEAR(many.progress(int64_t(i)).final_eval_loss, one.progress(int64_t(i)).final_eval_loss,
                1e-6)
        << run.run_id;
  }
}

}  // namespace
}  // namespace sweep
