// Variants compared (fit/comparison.h): two families' IsoFLOP tables drawn
// from known Chinchilla-form laws, written as one CSV table with a variant
// column, read and fitted as `sweepd fit` does; the recovered crossover and
// compute multiplier must hold the true ones inside their intervals.
//
// The truth is computed here without the library's closed forms: each true
// frontier by minimising L(N, C/6N) over N numerically, the crossover and the
// multiplier's inverse by bisection on those frontiers.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "fit/comparison.h"
#include "fit/fit_data.h"

namespace sweep::fit {
namespace {

// L(N, D) = E + A/N^α + B/D^β.
struct Law {
  double E, A, B, alpha, beta;
  double loss(double n, double d) const {
    return E + A / std::pow(n, alpha) + B / std::pow(d, beta);
  }
};

// min over N of L(N, C/6N), by golden section on ln N (L is unimodal in ln N
// at fixed C).
double true_frontier(const Law& law, double compute) {
  double lo = std::log(1e2), hi = std::log(1e16);
  const double phi = (std::sqrt(5.0) - 1) / 2;
  auto f = [&](double u) {
    const double n = std::exp(u);
    return law.loss(n, compute / (6 * n));
  };
  for (int i = 0; i < 200; ++i) {
    const double a = hi - phi * (hi - lo), b = lo + phi * (hi - lo);
    (f(a) < f(b) ? hi : lo) = f(a) < f(b) ? b : a;
  }
  return f(0.5 * (lo + hi));
}

// The compute at which `law`'s frontier reaches `loss` (bisection in ln C).
double true_compute_for_loss(const Law& law, double loss) {
  double lo = std::log(1e10), hi = std::log(1e40);
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    (true_frontier(law, std::exp(mid)) > loss ? lo : hi) = mid;
  }
  return std::exp(0.5 * (lo + hi));
}

// The C in [lo, hi] where the two frontiers meet (one sign change there).
double true_crossover(const Law& a, const Law& b, double lo, double hi) {
  double x0 = std::log(lo), x1 = std::log(hi);
  auto gap = [&](double x) { return true_frontier(a, std::exp(x)) - true_frontier(b, std::exp(x)); };
  const bool left = gap(x0) > 0;
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (x0 + x1);
    ((gap(mid) > 0) == left ? x0 : x1) = mid;
  }
  return std::exp(0.5 * (x0 + x1));
}

// A law with B's exponents and coefficients whose frontier meets `reference`'s
// at `crossover`: E solved from the closed form of approach 3's frontier,
// checked against the numerical truth by the tests.
Law meeting_at(const Law& reference, double crossover, double alpha, double beta, double A,
               double B) {
  const double G = std::pow(alpha * A / (beta * B), 1 / (alpha + beta));
  const double gamma = alpha * beta / (alpha + beta);
  const double K = A * std::pow(G, -alpha) + B * std::pow(G, beta);
  const double E = true_frontier(reference, crossover) - K * std::pow(crossover / 6, -gamma);
  return {E, A, B, alpha, beta};
}

const Law kGpt{1.69, 406.4, 410.7, 0.34, 0.28};  // Chinchilla's published law
const std::vector<double> kBudgets = {1e18, 3e18, 1e19, 3e19, 1e20};

// The two families as one CSV table: 7 sizes per budget spaced by 2× around
// each family's own optimum, loss with lognormal noise, C given (D = C/6N).
std::string two_family_table(const std::string& name, const Law& gpt, const Law& rnn,
                             double noise, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> gauss(0, noise);
  std::ostringstream text;
  text << "run,variant,params,flops,loss\n";
  text.precision(12);
  for (const auto& [variant, law] : {std::pair<std::string, Law>{"gpt", gpt}, {"rnn", rnn}}) {
    for (double c : kBudgets) {
      const double G = std::pow(law.alpha * law.A / (law.beta * law.B), 1 / (law.alpha + law.beta));
      const double n_opt = G * std::pow(c / 6, law.beta / (law.alpha + law.beta));
      for (int i = 0; i < 7; ++i) {
        const double n = n_opt * std::pow(2.0, i - 3);
        const double loss = law.loss(n, c / (6 * n)) * std::exp(gauss(rng));
        text << variant << "-" << c << "-" << i << "," << variant << "," << n << "," << c << ","
             << loss << "\n";
      }
    }
  }
  const std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << text.str();
  return path;
}

AnalysisOptions comparison_options() {
  AnalysisOptions options;
  options.approaches = {2, 3};
  options.bootstrap = 200;
  options.confidence = 0.95;
  options.holdout_budgets = 0;  // the backtests are tested elsewhere
  options.distance_backtest = false;
  return options;
}

// Fits the table and returns its one pair (rnn over gpt).
VariantStudy fit_table(const std::string& path) {
  const FitData data = read_csv_table(path, {});
  EXPECT_EQ(variant_names(data), (std::vector<std::string>{"gpt", "rnn"}));
  return analyze_variants(data, comparison_options());
}

void print_crossover(const Crossover& crossover, double truth) {
  std::printf("  crossover true %.4g, recovered %.4g [%.4g, %.4g]\n", truth,
              crossover.compute.value, crossover.compute.lo, crossover.compute.hi);
}

bool inside(const Interval& interval, double truth) {
  return interval.lo <= truth && truth <= interval.hi;
}

// Every multiplier row at a budget (and any further ones in `all`) holds the
// true multiplier of rnn over gpt.
void expect_multipliers_cover_the_truth(const PairComparison& pair, const Law& gpt,
                                        const Law& rnn) {
  int budgets = 0;
  for (const MultiplierRow& row : pair.rows) {
    if (row.where != "budget") continue;
    ++budgets;
    const double truth =
        true_compute_for_loss(gpt, true_frontier(rnn, row.compute)) / row.compute;
    std::printf("  C %.3g: multiplier true %.4g, recovered %.4g [%.4g, %.4g]\n", row.compute,
                truth, row.multiplier.value, row.multiplier.lo, row.multiplier.hi);
    EXPECT_TRUE(inside(row.multiplier, truth))
        << "C = " << row.compute << ": true multiplier " << truth << ", recovered "
        << row.multiplier.value << " [" << row.multiplier.lo << ", " << row.multiplier.hi
        << "], off by " << row.multiplier.value / truth - 1;
    EXPECT_TRUE(row.measured) << row.compute;
    EXPECT_GE(row.multiplier.pairs, 150) << "replicate pairs behind the interval";
  }
  EXPECT_EQ(budgets, 5);
}

TEST(Comparison, Approach3FrontierIsTheNumericalMinimumOverN) {
  const ParametricLaw law{kGpt.E, kGpt.A, kGpt.B, kGpt.alpha, kGpt.beta};
  const OffsetPowerLaw frontier = approach3_frontier(law, 6);
  for (double c : {1e15, 1e18, 1e21, 1e24}) {
    const double truth = true_frontier(kGpt, c);
    EXPECT_NEAR(frontier.at(c) / truth, 1, 1e-9) << "C = " << c;
    EXPECT_NEAR(compute_for_loss(frontier, truth) / c, 1, 1e-6) << "C = " << c;
  }
  EXPECT_TRUE(std::isinf(compute_for_loss(frontier, kGpt.E))) << "E itself is never reached";
}

TEST(Comparison, CrossoverInsideTheBudgetsIsRecoveredWithinItsInterval) {
  const Law rnn = meeting_at(kGpt, 1e19, 0.45, 0.40, 1500, 2000);
  const double truth = true_crossover(kGpt, rnn, 1e17, 1e23);
  ASSERT_NEAR(truth / 1e19, 1, 1e-3) << "the constructed laws meet at 1e19";
  const VariantStudy study = fit_table(two_family_table("cross_inside.csv", kGpt, rnn, 0.003, 7));
  const Comparison& comparison = study.comparison;
  EXPECT_EQ(comparison.source, FrontierSource::kApproach3) << comparison.source_why;
  ASSERT_EQ(comparison.pairs.size(), 1u);
  const PairComparison& pair = comparison.pairs[0];
  EXPECT_EQ(pair.a, "gpt");
  EXPECT_EQ(pair.b, "rnn");
  EXPECT_DOUBLE_EQ(pair.searched_lo, 1e17);
  EXPECT_DOUBLE_EQ(pair.searched_hi, 1e23);
  ASSERT_EQ(pair.crossovers.size(), 1u) << "one crossover in [1e17, 1e23]";
  const Crossover& crossover = pair.crossovers[0];
  print_crossover(crossover, truth);
  EXPECT_TRUE(inside(crossover.compute, truth))
      << "true crossover " << truth << ", recovered " << crossover.compute.value << " ["
      << crossover.compute.lo << ", " << crossover.compute.hi << "]";
  EXPECT_LT(crossover.compute.hi / crossover.compute.lo, 10)
      << "an interval inside the budgets is finite and narrow";
  EXPECT_TRUE(crossover.inside_measured);
  EXPECT_EQ(crossover.better_below, "rnn");
  EXPECT_EQ(crossover.better_above, "gpt");
  expect_multipliers_cover_the_truth(pair, kGpt, rnn);
  // rnn is worth more than gpt's compute below the crossover, less above.
  EXPECT_GT(pair.rows.front().multiplier.value, 1);
  EXPECT_LT(pair.rows[4].multiplier.value, 1);
}

TEST(Comparison, CrossoverBeyondTheBudgetsIsAnExtrapolationWithinItsInterval) {
  const Law rnn = meeting_at(kGpt, 1e22, 0.45, 0.40, 1500, 2000);
  const double truth = true_crossover(kGpt, rnn, 1e17, 1e23);
  ASSERT_NEAR(truth / 1e22, 1, 1e-3);
  const VariantStudy study = fit_table(two_family_table("cross_beyond.csv", kGpt, rnn, 0.003, 8));
  ASSERT_EQ(study.comparison.pairs.size(), 1u);
  const PairComparison& pair = study.comparison.pairs[0];
  ASSERT_EQ(pair.crossovers.size(), 1u);
  const Crossover& crossover = pair.crossovers[0];
  print_crossover(crossover, truth);
  EXPECT_FALSE(crossover.inside_measured) << "1e22 lies beyond the largest budget, 1e20";
  EXPECT_TRUE(inside(crossover.compute, truth))
      << "true crossover " << truth << ", recovered " << crossover.compute.value << " ["
      << crossover.compute.lo << ", " << crossover.compute.hi << "]";
  EXPECT_GT(crossover.compute.lo, 1e20) << "the data say the crossover lies beyond the budgets";
  expect_multipliers_cover_the_truth(pair, kGpt, rnn);
  for (const MultiplierRow& row : pair.rows)
    EXPECT_EQ(row.measured, row.where == "budget") << row.where;
}

TEST(Comparison, NoCrossoverSaysWhichIsBetterAndRecoversAConstantMultiplier) {
  // The same exponents and E, both coefficients ×0.8: the reducible loss is
  // 0.8× everywhere, so gpt needs 0.8^(−1/γ) = 4.27× rnn's compute at every C.
  const Law rnn{kGpt.E, 0.8 * kGpt.A, 0.8 * kGpt.B, kGpt.alpha, kGpt.beta};
  const double gamma = kGpt.alpha * kGpt.beta / (kGpt.alpha + kGpt.beta);
  const double multiplier = std::pow(0.8, -1 / gamma);
  const VariantStudy study = fit_table(two_family_table("no_cross.csv", kGpt, rnn, 0.003, 9));
  ASSERT_EQ(study.comparison.pairs.size(), 1u);
  const PairComparison& pair = study.comparison.pairs[0];
  EXPECT_TRUE(pair.crossovers.empty()) << pair.crossovers.size() << " crossovers";
  EXPECT_EQ(pair.better, "rnn");
  expect_multipliers_cover_the_truth(pair, kGpt, rnn);
  for (const MultiplierRow& row : pair.rows) {
    EXPECT_NEAR(row.multiplier.value / multiplier, 1, 0.35) << row.where << " " << row.compute;
    if (row.where == "budget") {
      EXPECT_GT(row.multiplier.lo, 1) << "rnn is better at every budget";
    }
  }
  ASSERT_EQ(pair.rows.size(), 7u) << "5 budgets, then 10× and 100× the largest";
  EXPECT_EQ(pair.rows[5].where, "10× the largest budget");
}

TEST(Comparison, EachVariantIsFittedAloneWithItsOwnSeedAndSettingsDiffer) {
  EXPECT_NE(variant_seed(1, "gpt"), variant_seed(1, "rnn"));
  EXPECT_EQ(variant_seed(1, "gpt"), variant_seed(1, "gpt"));
  VariantInfo a{"gpt", {{"n_layer", "12"}, {"family", "gpt2"}}, {{"lr", "6e-4"}}, "job"};
  VariantInfo b{"llama", {{"n_layer", "12"}, {"family", "llama"}}, {{"lr", "3e-4"}},
                "tuned at N=1e6 from 1e-4, 3e-4, 1e-3"};
  const std::vector<SettingDifference> d = setting_differences(a, b);
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[0].kind, "architecture");
  EXPECT_EQ(d[0].key, "model.family");
  EXPECT_EQ(d[1].kind, "recipe");
  EXPECT_EQ(d[1].key, "train.lr");
  EXPECT_EQ(d[2].key, "train.lr (how chosen)");
  EXPECT_EQ(d[2].b, "tuned at N=1e6 from 1e-4, 3e-4, 1e-3");
}

TEST(Comparison, AVariantWithoutALawIsListedAndTheOthersStillCompare) {
  const Law rnn{kGpt.E, 0.8 * kGpt.A, 0.8 * kGpt.B, kGpt.alpha, kGpt.beta};
  FitData data = read_csv_table(two_family_table("with_lone.csv", kGpt, rnn, 0.003, 10), {});
  // A third variant of 2 runs supports no law.
  for (int i = 0; i < 2; ++i) {
    Observation p = data.points[i];
    p.variant = "tiny";
    p.run_id = "tiny-" + std::to_string(i);
    data.points.push_back(p);
  }
  AnalysisOptions options = comparison_options();
  options.bootstrap = 20;
  const VariantStudy study = analyze_variants(data, options);
  ASSERT_EQ(study.variants.size(), 3u);
  EXPECT_FALSE(study.variants[2].analysis);
  EXPECT_NE(study.variants[2].why.find("2 runs to fit"), std::string::npos) << study.variants[2].why;
  ASSERT_EQ(study.comparison.not_compared.size(), 1u);
  EXPECT_EQ(study.comparison.not_compared[0].rfind("tiny: not fitted", 0), 0u);
  EXPECT_EQ(study.comparison.pairs.size(), 1u);
}

TEST(Comparison, Approach3IsNotUsedWhereItsFrontierLiesAboveAVariantsOwnRuns) {
  const Law rnn{kGpt.E, 0.8 * kGpt.A, 0.8 * kGpt.B, kGpt.alpha, kGpt.beta};
  AnalysisOptions options = comparison_options();
  options.bootstrap = 20;
  {
    // From the laws themselves: approach 3 agrees with the runs and is used.
    const FitData data = read_csv_table(two_family_table("agree.csv", kGpt, rnn, 0.003, 11), {});
    const VariantStudy study = analyze_variants(data, options);
    EXPECT_EQ(study.comparison.source, FrontierSource::kApproach3) << study.comparison.source_why;
  }
  // Every run of the largest budget 10% lower than the law: one smooth L(N, D)
  // cannot follow, so its frontier lies more than 2% above the best run there.
  FitData data = read_csv_table(two_family_table("disagree.csv", kGpt, rnn, 0.003, 11), {});
  const double largest = data.budgets.back();
  for (Observation& p : data.points)
    if (p.budget == largest) p.loss *= 0.9;
  const VariantStudy study = analyze_variants(data, options);
  EXPECT_EQ(study.comparison.source, FrontierSource::kComputeLaw) << study.comparison.source_why;
  EXPECT_NE(study.comparison.source_why.find("% above the best run trained there"),
            std::string::npos)
      << study.comparison.source_why;
  EXPECT_EQ(study.comparison.pairs.size(), 1u) << "still compared, on the L(C) frontiers";
}

}  // namespace
}  // namespace sweep::fit
