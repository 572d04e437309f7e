// The whole fit stage on synthetic sweeps drawn from a known law
// (fit/analysis.h): recovery, interval coverage, backtest, projections, and
// clear refusals for data that cannot support a law.

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "common/error.h"
#include "fit/analysis.h"

namespace sweep::fit {
namespace {

const ParametricLaw kTruth{1.69337, 406.401, 410.723, 0.33917, 0.28491};

// An IsoFLOP sweep: `sizes` runs per budget spaced by 2x around the true
// optimum, loss = L(N, D)·exp(noise), C = 6ND.
FitData synthetic_sweep(const std::vector<double>& budgets, int sizes, double noise, uint64_t seed,
                        const ParametricLaw& law = kTruth) {
  FitData data;
  data.source = "synthetic";
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> gauss(0, noise);
  for (double c : budgets) {
    const double n_opt = law.optimal_params(c, 6);
    for (int i = 0; i < sizes; ++i) {
      Observation p;
      p.params = n_opt * std::pow(2.0, i - (sizes - 1) / 2.0);
      p.tokens = c / (6 * p.params);
      p.flops = c;
      p.budget = c;
      p.loss = law.loss(p.params, p.tokens) * std::exp(noise > 0 ? gauss(rng) : 0);
      p.run_id = "C" + std::to_string(c) + "-" + std::to_string(i);
      data.points.push_back(p);
    }
    data.budgets.push_back(c);
  }
  return data;
}

const std::vector<double> kBudgets = {1e18, 3e18, 1e19, 3e19, 1e20};

std::string user_error_of(const FitData& data, const AnalysisOptions& options) {
  try {
    analyze(data, options);
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

TEST(Analysis, RecoversTheLawAndAgreesAcrossApproaches) {
  const FitData data = synthetic_sweep(kBudgets, 7, 0.002, 1);
  AnalysisOptions options;
  options.approaches = {2, 3};
  options.bootstrap = 100;
  options.targets = {{"1e22", 1e22, 0, 0}, {"70B", 0, 7e10, 1.4e12}};
  const Analysis analysis = analyze(data, options);
  ASSERT_TRUE(analysis.laws.a3);
  ASSERT_TRUE(analysis.laws.a2_params);
  EXPECT_NEAR(analysis.find("a3.a")->value, kTruth.a(), 0.03);
  EXPECT_NEAR(analysis.find("a2.a")->value, kTruth.a(), 0.03);
  EXPECT_NEAR(analysis.find("a2.a")->value + analysis.find("a2.b")->value, 1, 1e-9)
      << "C = 6ND at every minimum, so a + b = 1";
  EXPECT_NEAR(analysis.find("a3.E")->value, kTruth.E, 0.1);
  for (const Quantity& q : analysis.quantities) {
    EXPECT_TRUE(std::isfinite(q.lo) && std::isfinite(q.hi)) << q.key;
    EXPECT_LE(q.lo, q.hi) << q.key;
  }
  // Projection to 1e22 FLOPs: both approaches near the truth's N_opt.
  const double truth = kTruth.optimal_params(1e22, 6);
  int projected = 0;
  for (const Projection& p : analysis.projections) {
    if (p.target.compute != 1e22) continue;
    ++projected;
    EXPECT_NEAR(p.params.value / truth, 1, 0.3) << "approach " << p.approach;
    EXPECT_NEAR(p.tokens_per_param.value, p.tokens.value / p.params.value, 1e-6);
  }
  EXPECT_EQ(projected, 2);
  EXPECT_NEAR(analysis.find("target.1.a3.loss")->value, kTruth.loss(7e10, 1.4e12), 0.02);
  EXPECT_TRUE(analysis.warnings.empty()) << analysis.warnings.front();
}

// Repeated noisy sweeps: the 90% intervals of α, β and a cover the truth in
// about 90% of trials.
TEST(Analysis, NinetyPercentIntervalsCoverTheTruthAboutNinetyPercentOfTheTime) {
  constexpr int kTrials = 40;
  std::map<std::string, int> covered;
  const std::map<std::string, double> truth = {
      {"a3.alpha", kTruth.alpha}, {"a3.beta", kTruth.beta}, {"a3.a", kTruth.a()}};
  AnalysisOptions options;
  options.approaches = {3};
  options.bootstrap = 200;
  options.confidence = 0.9;
  // Every 9th start of the grid is enough for these sweeps (the full grid
  // finds the same optimum); the replicates start from its best optima.
  const std::vector<StartPoint> grid = chinchilla_start_grid();
  for (size_t i = 0; i < grid.size(); i += 9) options.parametric.starts.push_back(grid[i]);
  for (int trial = 0; trial < kTrials; ++trial) {
    const FitData data = synthetic_sweep(kBudgets, 7, 0.01, 100 + trial);
    options.seed = 7 + trial;
    const Analysis analysis = analyze(data, options);
    for (const auto& [key, value] : truth) {
      const Quantity* q = analysis.find(key);
      ASSERT_NE(q, nullptr) << key;
      covered[key] += q->lo <= value && value <= q->hi;
    }
  }
  for (const auto& [key, count] : covered) {
    const double rate = static_cast<double>(count) / kTrials;
    // Binomial(40, 0.9): 0.75 is 3.2 standard deviations below.
    EXPECT_GE(rate, 0.75) << key << " covered in " << count << " of " << kTrials;
    EXPECT_LE(rate, 1.0) << key;
    std::cout << key << ": covered in " << count << " of " << kTrials << " trials\n";
  }
}

TEST(Analysis, BacktestPredictsTheHeldOutBudget) {
  const FitData data = synthetic_sweep(kBudgets, 7, 0.003, 5);
  AnalysisOptions options;
  options.approaches = {2, 3};
  options.bootstrap = 100;
  options.holdout_budgets = 1;
  const Analysis analysis = analyze(data, options);
  const Backtest& bt = analysis.backtest;
  EXPECT_EQ(bt.held_out_budgets, std::vector<double>{1e20});
  EXPECT_EQ(bt.fitted_budgets.size(), 4u);
  ASSERT_EQ(bt.rows.size(), 2u) << bt.why;
  for (const BacktestRow& row : bt.rows) {
    EXPECT_LT(std::abs(row.params_error), 0.3) << "approach " << row.approach;
    EXPECT_NEAR(row.predicted_params.value / row.observed_params - 1, row.params_error, 1e-12);
    EXPECT_LT(std::abs(row.loss_error), 0.05) << "approach " << row.approach;
  }
}

TEST(Analysis, OneBudgetIsRefusedWithTheReason) {
  const FitData data = synthetic_sweep({1e19}, 7, 0.0, 1);
  const std::string why = user_error_of(data, {});
  EXPECT_NE(why.find("no scaling law can be fitted"), std::string::npos) << why;
  EXPECT_NE(why.find("1 budget"), std::string::npos) << why;
  EXPECT_NE(why.find("approach 2: 1 of 1 IsoFLOP profiles have a minimum; needs 2"),
            std::string::npos)
      << why;
  EXPECT_NE(why.find("approach 3: needs at least 2 budgets"), std::string::npos) << why;
}

TEST(Analysis, FlatProfilesAreRefused) {
  FitData data = synthetic_sweep(kBudgets, 5, 0.0, 1);
  for (Observation& p : data.points) p.loss = 3.0;
  const std::string why = user_error_of(data, {});
  EXPECT_NE(why.find("no minimum"), std::string::npos) << why;
  EXPECT_NE(why.find("losses do not vary"), std::string::npos) << why;
}

TEST(Analysis, TooFewRunsAreRefused) {
  FitData data = synthetic_sweep({1e18, 1e19}, 2, 0.0, 1);
  const std::string why = user_error_of(data, {});
  EXPECT_NE(why.find("needs runs of at least 3 sizes"), std::string::npos) << why;
  EXPECT_NE(why.find("approach 3: needs at least 6 runs"), std::string::npos) << why;
  data.points.resize(2);
  EXPECT_NE(user_error_of(data, {}).find("needs at least 3"), std::string::npos);
}

TEST(Analysis, MissingApproachIsAWarningWhenOthersFit) {
  const FitData data = synthetic_sweep(kBudgets, 5, 0.0, 1);
  AnalysisOptions options;
  options.bootstrap = 0;
  const Analysis analysis = analyze(data, options);  // no curves: approach 1 cannot run
  ASSERT_FALSE(analysis.warnings.empty());
  EXPECT_NE(analysis.warnings[0].find("approach 1 not fitted: needs training curves"),
            std::string::npos)
      << analysis.warnings[0];
  EXPECT_TRUE(std::isnan(analysis.find("a3.alpha")->lo)) << "no bootstrap, no interval";
}

}  // namespace
}  // namespace sweep::fit
