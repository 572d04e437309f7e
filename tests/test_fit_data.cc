// Reading fit inputs (fit/fit_data.h): CSV tables from elsewhere, with one
// clear error per bad cell, and a sweep's HDF5 file with its done runs only.

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "fit/fit_data.h"
#include "storage/store.h"

namespace sweep::fit {
namespace {

class FitDataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "fit_data_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string table(const std::string& text, const std::string& name = "t.csv") {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  // The UserError message of reading `text`, or "" when it reads.
  std::string error_of(const std::string& text, const InputOptions& options = {}) {
    try {
      load_fit_data(table(text), options);
    } catch (const UserError& e) {
      return e.what();
    }
    return "";
  }

  std::string dir_;
};

TEST_F(FitDataTest, ReadsParamsTokensLossAndInfersBudgets) {
  const FitData data = load_fit_data(table("# from another framework\n"
                                           "params,tokens,loss\n"
                                           "1e6,1.6e7,3.1\n"
                                           "2e6,8.0e6,3.0\n"
                                           "4e6,4.0e6,3.2\n"
                                           "1e6,1.6e8,2.8\n"
                                           "4e6,4.0e7,2.7\n"),
                                     {});
  ASSERT_EQ(data.points.size(), 5u);
  ASSERT_EQ(data.budgets.size(), 2u) << "6ND = 9.6e13 (x3, within 5%) and 9.6e14 (x2)";
  EXPECT_NEAR(data.budgets[0] / 9.6e13, 1, 0.01);
  EXPECT_NEAR(data.budgets[1] / 9.6e14, 1, 0.01);
  EXPECT_EQ(data.flops_per_param_token, 6);
  EXPECT_EQ(data.points[0].run_id, "line 3");
  EXPECT_DOUBLE_EQ(data.points[0].flops, 6 * 1e6 * 1.6e7);
  EXPECT_TRUE(data.curves.empty());
  EXPECT_EQ(data.profiles()[0].size(), 3u);
}

TEST_F(FitDataTest, FlopsColumnGivesTokensAsFlopsOverSixN) {
  const FitData data = load_fit_data(table("params,flops,loss,budget\n2e6,1.2e14,3.0,1e14\n"), {});
  ASSERT_EQ(data.points.size(), 1u);
  EXPECT_DOUBLE_EQ(data.points[0].tokens, 1e7);
  EXPECT_EQ(data.points[0].budget, 1e14) << "the budget column groups profiles as given";
}

TEST_F(FitDataTest, TokensAndFlopsTogetherSetK) {
  const FitData data = load_fit_data(table("run,params,tokens,flops,loss\na,1e6,1e7,8e13,3\nb,2e6,"
                                           "5e6,8e13,3.1\nc,4e6,2.5e6,8e13,3.3\n"),
                                     {});
  EXPECT_DOUBLE_EQ(data.flops_per_param_token, 8);
  EXPECT_EQ(data.points[1].run_id, "b");
}

TEST_F(FitDataTest, BadTablesNameTheRowAndColumn) {
  EXPECT_NE(error_of("params,loss\n1e6,3\n").find("needs a 'tokens' or a 'flops' column"),
            std::string::npos);
  EXPECT_NE(error_of("params,tokens\n1e6,3\n").find("no 'loss' column"), std::string::npos);
  EXPECT_NE(error_of("params,tokens,loss,size\n").find("t.csv:1:20: unknown column 'size'"),
            std::string::npos)
      << error_of("params,tokens,loss,size\n");
  const std::string bad_number = error_of("params,tokens,loss\n1e6,1e7,3\n1e6,abc,3\n");
  EXPECT_NE(bad_number.find("t.csv:3:5: tokens = 'abc': not a number"), std::string::npos)
      << bad_number;
  const std::string negative = error_of("params,tokens,loss\n1e6,1e7,-3\n");
  EXPECT_NE(negative.find("t.csv:2:9: loss = -3: must be positive"), std::string::npos) << negative;
  EXPECT_NE(error_of("params,tokens,loss\n1e6,1e7\n").find("t.csv:2:1: row has 2 cells"),
            std::string::npos);
  EXPECT_NE(error_of("params,tokens,loss\n1e6,,3\n").find("tokens = '': not a number"),
            std::string::npos);
  EXPECT_NE(error_of("params,tokens,loss\n").find("no rows"), std::string::npos);
  EXPECT_NE(error_of("").find("empty"), std::string::npos);
  EXPECT_NE(error_of("params,tokens,loss\n1e6,1e7,nan\n").find("not a number"), std::string::npos);
}

TEST_F(FitDataTest, DropsTheHighestLossesAndSelectsBudgets) {
  const std::string text =
      "params,tokens,loss,budget\n"
      "1e6,1e7,3.0,6e13\n2e6,5e6,9.0,6e13\n4e6,2.5e6,3.2,6e13\n"
      "1e6,1e8,2.8,6e14\n2e6,5e7,2.6,6e14\n";
  InputOptions drop;
  drop.drop_highest = 1;
  const FitData dropped = load_fit_data(table(text), drop);
  EXPECT_EQ(dropped.points.size(), 4u);
  ASSERT_EQ(dropped.excluded.size(), 1u);
  EXPECT_EQ(dropped.excluded[0].run_id, "line 3");
  EXPECT_NE(dropped.excluded[0].reason.find("highest"), std::string::npos);

  InputOptions select;
  select.budgets = {6.1e14};
  const FitData selected = load_fit_data(table(text), select);
  EXPECT_EQ(selected.points.size(), 2u);
  EXPECT_EQ(selected.budgets, std::vector<double>{6e14});
  select.budgets = {1e20};
  EXPECT_NE(error_of(text, select).find("budget 1e20 matches no runs"), std::string::npos)
      << error_of(text, select);
}

TEST_F(FitDataTest, SweepFileGivesDoneRunsWithCurvesAndListsTheOthers) {
  const std::string path = dir_ + "/sweep.h5";
  SweepInfo info;
  info.sweep_name = "t";
  info.job_path = "t.toml";
  info.job_text = "";
  info.sweepd_version = "test";
  info.flop_convention = "chinchilla";
  info.fingerprint = "grid";
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
    SweepStore store = SweepStore::open(path, info, runs);
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

TEST(InferBudgets, GroupsFlopsWithinAFactorOf126) {
  const std::vector<double> b = infer_budgets({1e18, 1.1e18, 0.95e18, 3e18, 3.2e18, 1e19});
  EXPECT_EQ(b[0], b[1]);
  EXPECT_EQ(b[0], b[2]);
  EXPECT_EQ(b[3], b[4]);
  EXPECT_NE(b[0], b[3]);
  EXPECT_NE(b[4], b[5]);
  EXPECT_NEAR(b[0] / 1.0e18, 1, 0.05);
}

}  // namespace
}  // namespace sweep::fit
