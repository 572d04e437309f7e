// Approach 3's objective and its L-BFGS fit from Chinchilla's grid
// (fit/parametric_fit.h).

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "fit/parametric_fit.h"

namespace sweep::fit {
namespace {

const ParametricLaw kTruth{1.69337, 406.401, 410.723, 0.33917, 0.28491};

struct Runs {
  std::vector<double> params, tokens, loss;
};

// An IsoFLOP grid: 5 budgets × 7 sizes around each budget's optimum, losses
// from `law` times exp(noise).
Runs synthetic_runs(const ParametricLaw& law, double noise, uint64_t seed) {
  Runs runs;
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> gauss(0, noise);
  for (double c : {1e18, 3e18, 1e19, 3e19, 1e20}) {
    const double n_opt = law.optimal_params(c, 6);
    for (int i = -3; i <= 3; ++i) {
      const double n = n_opt * std::pow(2.0, i);
      const double d = c / (6 * n);
      runs.params.push_back(n);
      runs.tokens.push_back(d);
      runs.loss.push_back(law.loss(n, d) * std::exp(noise > 0 ? gauss(rng) : 0));
    }
  }
  return runs;
}

TEST(ParametricFit, StartGridIsChinchillas) {
  const std::vector<StartPoint> grid = chinchilla_start_grid();
  EXPECT_EQ(grid.size(), 4500u) << "α, β, e: 5 values each; a, b: 6 values each";
  EXPECT_EQ(grid.front().alpha, 0);
  EXPECT_EQ(grid.back().alpha, 2);
  EXPECT_EQ(grid.back().e, 1);
  EXPECT_EQ(grid.back().a, 25);
  EXPECT_EQ(grid.back().b, 25);
}

TEST(ParametricFit, AnalyticGradientMatchesFiniteDifferences) {
  const Runs runs = synthetic_runs(kTruth, 0.01, 3);
  HuberLogLossObjective objective;
  for (size_t i = 0; i < runs.loss.size(); ++i) {
    objective.log_params.push_back(std::log(runs.params[i]));
    objective.log_tokens.push_back(std::log(runs.tokens[i]));
    objective.log_loss.push_back(std::log(runs.loss[i]));
  }
  for (const StartPoint& p : {StartPoint{0.3, 0.3, 0.5, 6, 6}, StartPoint{0.5, 1.0, -1, 5, 10}}) {
    double x[5] = {p.alpha, p.beta, p.e, p.a, p.b}, gradient[5];
    objective.evaluate(x, gradient);
    for (int j = 0; j < 5; ++j) {
      const double h = 1e-6;
      double up[5], down[5];
      std::copy(x, x + 5, up), std::copy(x, x + 5, down);
      up[j] += h, down[j] -= h;
      const double numeric =
          (objective.evaluate(up, nullptr) - objective.evaluate(down, nullptr)) / (2 * h);
      EXPECT_NEAR(gradient[j], numeric, 1e-6 * std::max(1.0, std::abs(numeric)))
          << "parameter " << j;
    }
  }
}

TEST(ParametricFit, RecoversTheLawFromExactData) {
  const Runs runs = synthetic_runs(kTruth, 0, 0);
  ParametricFitOptions options;
  options.threads = 0;
  const ParametricFit fit = fit_parametric(runs.params, runs.tokens, runs.loss, options);
  EXPECT_EQ(fit.starts, 4500);
  EXPECT_GT(fit.converged, 0);
  EXPECT_NEAR(fit.law.alpha, kTruth.alpha, 2e-3);
  EXPECT_NEAR(fit.law.beta, kTruth.beta, 2e-3);
  EXPECT_NEAR(fit.law.E, kTruth.E, 2e-3);
  EXPECT_NEAR(fit.law.a(), kTruth.a(), 1e-3);
  EXPECT_LT(fit.objective, 1e-9);
  ASSERT_FALSE(fit.optima.empty());
  // The summary: the verdict travels with the law.
  EXPECT_EQ(fit.termination, Termination::kConvergence);
  EXPECT_FALSE(fit.message.empty());
  EXPECT_TRUE(fit.usable()) << fit.why_unusable();
  EXPECT_FALSE(fit.few_converged()) << fit.brief_report();
  EXPECT_NE(fit.brief_report().find("CONVERGENCE; "), std::string::npos) << fit.brief_report();
  EXPECT_NE(fit.brief_report().find(" of 4,500 starts converged"), std::string::npos);
}

TEST(ParametricFit, FewConvergedStartsAreFlagged) {
  const Runs runs = synthetic_runs(kTruth, 0.005, 11);
  ParametricFitOptions options;
  options.max_iterations = 2;  // stops nearly every start before a tolerance is met
  const std::vector<StartPoint> grid = chinchilla_start_grid();
  for (size_t i = 0; i < grid.size(); i += 45) options.starts.push_back(grid[i]);
  const ParametricFit fit = fit_parametric(runs.params, runs.tokens, runs.loss, options);
  EXPECT_EQ(fit.starts, 100);
  EXPECT_TRUE(fit.few_converged()) << fit.brief_report();
  EXPECT_LT(fit.converged, 50);
}

TEST(ParametricFit, AFailedOrTrendlessOptimumIsNotUsable) {
  const Runs runs = synthetic_runs(kTruth, 0, 0);
  ParametricFitOptions options;
  options.starts = {{NAN, NAN, NAN, NAN, NAN}};
  const ParametricFit failed = fit_parametric(runs.params, runs.tokens, runs.loss, options);
  EXPECT_EQ(failed.termination, Termination::kFailure);
  EXPECT_FALSE(failed.usable());
  EXPECT_NE(failed.why_unusable().find("L-BFGS failed"), std::string::npos)
      << failed.why_unusable();

  ParametricFit trendless;
  trendless.law = {1.7, 400, 410, 1e-5, 0.28};
  trendless.termination = Termination::kConvergence;
  trendless.objective = 1e-4;
  EXPECT_FALSE(trendless.usable());
  EXPECT_NE(trendless.why_unusable().find("no trend in N"), std::string::npos)
      << trendless.why_unusable();
}

TEST(ParametricFit, RecoversTheLawFromNoisyData) {
  const Runs runs = synthetic_runs(kTruth, 0.005, 11);
  ParametricFitOptions options;
  options.threads = 0;
  const ParametricFit fit = fit_parametric(runs.params, runs.tokens, runs.loss, options);
  EXPECT_NEAR(fit.law.a(), kTruth.a(), 0.05) << "α " << fit.law.alpha << " β " << fit.law.beta;
  EXPECT_NEAR(fit.law.E, kTruth.E, 0.15);
}

}  // namespace
}  // namespace sweep::fit
