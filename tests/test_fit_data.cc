// Reading fit inputs (fit/fit_data.h): CSV tables from elsewhere, with one
// clear error per bad cell; budgets grouped from FLOPs where none are given.
// (A sweep's HDF5 file is read by orchestrator/sweep_fit_data.h, tested in
// test_sweep_fit_data.cc: this executable links no HDF5.)

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "common/error.h"
#include "fit/fit_data.h"

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
      read_csv_table(table(text), options);
    } catch (const UserError& e) {
      return e.what();
    }
    return "";
  }

  std::string dir_;
};

TEST_F(FitDataTest, ReadsParamsTokensLossAndInfersBudgets) {
  const FitData data = read_csv_table(table("# from another framework\n"
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
  const FitData data = read_csv_table(table("params,flops,loss,budget\n2e6,1.2e14,3.0,1e14\n"), {});
  ASSERT_EQ(data.points.size(), 1u);
  EXPECT_DOUBLE_EQ(data.points[0].tokens, 1e7);
  EXPECT_EQ(data.points[0].budget, 1e14) << "the budget column groups profiles as given";
}

TEST_F(FitDataTest, TokensAndFlopsTogetherSetK) {
  const FitData data = read_csv_table(table("run,params,tokens,flops,loss\na,1e6,1e7,8e13,3\nb,2e6,"
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
  const FitData dropped = read_csv_table(table(text), drop);
  EXPECT_EQ(dropped.points.size(), 4u);
  ASSERT_EQ(dropped.excluded.size(), 1u);
  EXPECT_EQ(dropped.excluded[0].run_id, "line 3");
  EXPECT_NE(dropped.excluded[0].reason.find("highest"), std::string::npos);

  InputOptions select;
  select.budgets = {6.1e14};
  const FitData selected = read_csv_table(table(text), select);
  EXPECT_EQ(selected.points.size(), 2u);
  EXPECT_EQ(selected.budgets, std::vector<double>{6e14});
  select.budgets = {1e20};
  EXPECT_NE(error_of(text, select).find("budget 1e20 matches no runs"), std::string::npos)
      << error_of(text, select);
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

// Compute spread continuously (log-uniform over 1e18..1e22, as in a published
// table of runs) must not chain neighbour to neighbour into a few "budgets"
// spanning an order of magnitude: no group spans more than a factor of 1.26.
TEST(InferBudgets, ContinuousComputeIsNotChainedIntoWideGroups) {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> log_compute(18, 22);
  std::vector<double> flops;
  for (int i = 0; i < 240; ++i) flops.push_back(std::pow(10, log_compute(rng)));
  const std::vector<double> budgets = infer_budgets(flops);
  std::map<double, std::pair<double, double>> span;  // budget -> smallest, largest C
  for (size_t i = 0; i < flops.size(); ++i) {
    auto [it, added] = span.emplace(budgets[i], std::make_pair(flops[i], flops[i]));
    it->second.first = std::min(it->second.first, flops[i]);
    it->second.second = std::max(it->second.second, flops[i]);
  }
  for (const auto& [budget, range] : span)
    EXPECT_LE(range.second / range.first, std::pow(10, kBudgetGroupLog10) * (1 + 1e-12))
        << "budget " << budget << " spans " << range.first << " to " << range.second;
  // Each group starts more than 0.1 decade above the previous one's start.
  EXPECT_LE(span.size(), 40u);
  EXPECT_GE(span.size(), 20u) << "4 decades in groups of at most 0.1 decade";
}

// Under the non-embedding convention N is the non_embedding_params column and
// k follows it (C is what was spent: 6 times the total N here); a table
// without the column is refused under it and fits as before under total.
TEST_F(FitDataTest, NonEmbeddingConventionCountsNWithoutEmbeddings) {
  const std::string text =
      "params,non_embedding_params,tokens,loss,budget\n"
      "2e6,1e6,1e7,3.1,1.2e14\n"
      "4e6,3e6,5e6,3.0,1.2e14\n";
  InputOptions options;
  options.params = ParamConvention::kNonEmbedding;
  const FitData data = read_csv_table(table(text), options);
  ASSERT_EQ(data.points.size(), 2u);
  EXPECT_EQ(data.params, ParamConvention::kNonEmbedding);
  EXPECT_DOUBLE_EQ(data.points[0].params, 1e6);
  EXPECT_DOUBLE_EQ(data.points[1].params, 3e6);
  EXPECT_DOUBLE_EQ(data.points[0].flops, 6 * 2e6 * 1e7);
  // C/(N·D) = 12 and 8: the median is 10.
  EXPECT_DOUBLE_EQ(data.flops_per_param_token, 10);

  const FitData total = read_csv_table(table(text), {});
  EXPECT_EQ(total.params, ParamConvention::kTotal);
  EXPECT_DOUBLE_EQ(total.points[0].params, 2e6);
  EXPECT_DOUBLE_EQ(total.flops_per_param_token, 6);

  const std::string e = error_of("params,tokens,loss\n2e6,1e7,3.1\n", options);
  EXPECT_NE(e.find("no non-embedding parameter count (a non_embedding_params column)"),
            std::string::npos)
      << e;
}

// Runs given by N and D (budget 0: a sweep's explicit [[grid.runs]]) get
// budgets from their FLOPs, and a note says so; runs with a budget keep it.
TEST(FinishFitData, RunsWithoutABudgetAreGroupedByTheirFlops) {
  FitData data;
  data.source = "sweep.h5";
  for (double c : {1e18, 1.05e18, 4e18, 4.1e18}) {
    Observation p;
    p.params = 1e8, p.tokens = c / 6e8, p.flops = c, p.loss = 3;
    p.budget = 0;
    data.points.push_back(p);
  }
  Observation budgeted = data.points[0];
  budgeted.budget = 1e18;
  data.points.push_back(budgeted);
  finish_fit_data(data, {}, {});
  ASSERT_EQ(data.points.size(), 5u);
  for (const Observation& p : data.points) EXPECT_GT(p.budget, 0);
  EXPECT_EQ(data.budgets.size(), 3u) << "1e18 (nominal), ~1.02e18 and ~4.05e18 (grouped)";
  ASSERT_EQ(data.notes.size(), 1u);
  EXPECT_NE(data.notes[0].find("4 runs have no nominal budget"), std::string::npos)
      << data.notes[0];
  EXPECT_DOUBLE_EQ(median_flops_per_param_token(data.points), 6);
}

TEST_F(FitDataTest, VariantColumnSplitsTheRunsIntoVariantsWithTheirOwnBudgets) {
  const FitData data = read_csv_table(table("variant,params,tokens,loss\n"
                                            "llama,1e6,1.6e7,3.1\n"
                                            "gpt2,2e6,8.0e6,3.0\n"
                                            "gpt2,4e6,4.0e6,3.2\n"
                                            "llama,1e6,1.6e8,2.8\n"),
                                      {});
  EXPECT_EQ(variant_names(data), (std::vector<std::string>{"gpt2", "llama"}));
  const FitData llama = variant_data(data, "llama");
  ASSERT_EQ(llama.points.size(), 2u);
  for (const Observation& p : llama.points) EXPECT_EQ(p.variant, "llama");
  EXPECT_EQ(llama.budgets.size(), 2u) << "9.6e13 and 9.6e14";
  EXPECT_EQ(variant_data(data, "gpt2").budgets.size(), 1u);
  EXPECT_DOUBLE_EQ(llama.flops_per_param_token, 6);
}

TEST_F(FitDataTest, AnEmptyVariantCellIsALocatedError) {
  EXPECT_NE(error_of("params,tokens,loss,variant\n1e6,1.6e7,3.1,a\n1e6,1.6e8,2.8,\n")
                .find("t.csv:3:15: variant is empty"),
            std::string::npos)
      << error_of("params,tokens,loss,variant\n1e6,1.6e7,3.1,a\n1e6,1.6e8,2.8,\n");
}

TEST_F(FitDataTest, ATableWithoutVariantsHasOneUnnamedVariant) {
  const FitData data = read_csv_table(table("params,tokens,loss\n1e6,1.6e7,3.1\n"), {});
  EXPECT_EQ(variant_names(data), (std::vector<std::string>{""}));
}

TEST_F(FitDataTest, DropHighestDropsTheHighestLossesOfEachVariant) {
  InputOptions options;
  options.drop_highest = 1;
  const FitData data = read_csv_table(table("variant,params,tokens,loss\n"
                                            "lstm,1e6,1.6e7,5.1\n"
                                            "lstm,2e6,8.0e6,5.0\n"
                                            "gpt,1e6,1.6e7,3.1\n"
                                            "gpt,2e6,8.0e6,3.0\n"),
                                      options);
  ASSERT_EQ(data.excluded.size(), 2u) << "one of each variant, not both of lstm's";
  std::vector<std::string> variants = {data.excluded[0].variant, data.excluded[1].variant};
  std::sort(variants.begin(), variants.end());
  EXPECT_EQ(variants, (std::vector<std::string>{"gpt", "lstm"}));
}

}  // namespace
}  // namespace sweep::fit
