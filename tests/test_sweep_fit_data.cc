// A sweep's HDF5 file as the fit's input (orchestrator/sweep_fit_data.h): done
// runs with their curves, the others listed with why, explicit runs grouped
// by their FLOPs, and CSV-or-HDF5 dispatch by the file's name.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "orchestrator/sweep_fit_data.h"
#include "storage/store.h"

namespace sweep {
namespace {

using fit::FitData;

class SweepFitDataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "sweep_fit_data_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static SweepInfo info() {
    SweepInfo info;
    info.sweep_name = "t";
    info.job_path = "t.toml";
    info.job_text = "";
    info.sweepd_version = "test";
    info.flop_convention = "chinchilla";
    info.fingerprint = "grid";
    return info;
  }

  std::string dir_;
};

TEST_F(SweepFitDataTest, SweepFileGivesDoneRunsWithCurvesAndListsTheOthers) {
  const std::string path = dir_ + "/sweep.h5";
  std::vector<RunInfo> runs;
  const RunState states[] = {RunState::kDone, RunState::kDiverged, RunState::kDone,
                             RunState::kPending};
  for (int i = 0; i < 4; ++i) {
    RunInfo r;
    r.run_id = "run" + std::to_string(i);
    r.index = i;
    r.budget = 1e12;
    r.params_total = 10000 * (i + 1);
    r.tokens = 1000000;
    r.flops = 8.0 * r.params_total * r.tokens;
    runs.push_back(r);
  }
  {
    SweepStore store = SweepStore::open(path, info(), runs);
    store.start_writing();
    for (int i = 0; i < 4; ++i) {
      store.append_train(i, {10, 1000, 1e9, 4.0, 1e-3, 1, 1});
      store.append_train(i, {20, 2000, 2e9, 3.5 - 0.1 * i, 1e-3, 1, 2});
      RunProgress p;
      p.state = states[i];
      p.reason = states[i] == RunState::kDiverged ? "loss 9.1 at step 20" : "";
      p.final_eval_loss = 3.4 - 0.1 * i;
      store.set_progress(i, p);
    }
    store.flush();
  }
  const FitData data = load_fit_data(path, {});
  ASSERT_EQ(data.points.size(), 2u);
  EXPECT_EQ(data.points[0].run_id, "run0");
  EXPECT_EQ(data.points[1].run_id, "run2");
  EXPECT_DOUBLE_EQ(data.points[1].loss, 3.2);
  EXPECT_DOUBLE_EQ(data.points[1].params, 30000);
  EXPECT_DOUBLE_EQ(data.flops_per_param_token, 8);
  EXPECT_EQ(data.flop_convention, "chinchilla");
  ASSERT_EQ(data.curves.size(), 2u);
  EXPECT_EQ(data.curves[1].observation, 1);
  EXPECT_EQ(data.curves[1].loss, (std::vector<double>{4.0, 3.3}));
  ASSERT_EQ(data.excluded.size(), 2u);
  EXPECT_EQ(data.excluded[0].run_id, "run1");
  EXPECT_NE(data.excluded[0].reason.find("diverged: loss 9.1"), std::string::npos)
      << data.excluded[0].reason;
  EXPECT_NE(data.excluded[1].reason.find("not finished"), std::string::npos);
}

// Explicit [[grid.runs]] are stored with budget 0: they reach the fit with
// budgets grouped from their FLOPs, never 0 (which made approach 1's FLOP grid
// start at log 0 and approach 2's power law fail without a reason).
TEST_F(SweepFitDataTest, ExplicitRunsGetBudgetsGroupedFromTheirFlops) {
  const std::string path = dir_ + "/explicit.h5";
  std::vector<RunInfo> runs;
  const double params[] = {1e4, 2e4, 4e4, 1e4, 2e4, 4e4};
  const double tokens[] = {1e6, 1e6, 1e6, 4e6, 4e6, 4e6};
  for (int i = 0; i < 6; ++i) {
    RunInfo r;
    r.run_id = "explicit" + std::to_string(i);
    r.index = i;
    r.budget = 0;  // given by N and D, as [[grid.runs]] are
    r.params_total = static_cast<int64_t>(params[i]);
    r.tokens = static_cast<int64_t>(tokens[i]);
    r.flops = 6 * params[i] * tokens[i];
    runs.push_back(r);
  }
  {
    SweepStore store = SweepStore::open(path, info(), runs);
    store.start_writing();
    for (int i = 0; i < 6; ++i) {
      store.append_train(i, {10, 1000, 1e9, 4.0, 1e-3, 1, 1});
      RunProgress p;
      p.state = RunState::kDone;
      p.final_eval_loss = 3.0 - 0.1 * i;
      store.set_progress(i, p);
    }
    store.flush();
  }
  const FitData data = load_fit_data(path, {});
  ASSERT_EQ(data.points.size(), 6u);
  for (const fit::Observation& p : data.points)
    EXPECT_GT(p.budget, 0) << p.run_id << " kept budget 0";
  // C = 6e10 ... 9.6e11: factors of 2 apart, so every run is its own group.
  EXPECT_EQ(data.budgets.size(), 5u) << "6e10, 1.2e11, 2.4e11 (x2), 4.8e11, 9.6e11";
  ASSERT_FALSE(data.notes.empty());
  EXPECT_NE(data.notes.back().find("6 runs have no nominal budget"), std::string::npos)
      << data.notes.back();
}

TEST_F(SweepFitDataTest, TablesAreReadByTheirName) {
  const std::string path = dir_ + "/t.csv";
  std::ofstream(path) << "params,tokens,loss\n1e6,1e7,3\n2e6,5e6,3.1\n4e6,2.5e6,3.3\n";
  const FitData data = load_fit_data(path, {});
  EXPECT_EQ(data.points.size(), 3u);
  EXPECT_TRUE(data.curves.empty());
  EXPECT_THROW(load_fit_data(dir_ + "/missing.h5", {}), std::exception);
}

}  // namespace
}  // namespace sweep
