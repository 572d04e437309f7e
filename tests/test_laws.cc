// The functional forms and their small fits (fit/laws.h), and the closed-form
// compute-optimal frontier checked against brute force on Chinchilla's
// published constants.

#include <gtest/gtest.h>

#include <cmath>

#include "fit/laws.h"

namespace sweep::fit {
namespace {

// Hoffmann et al. (2022), approach 3, unrounded (Besiroglu et al. 2024 read them
// from the paper's code release): E, A, B, α, β.
const ParametricLaw kChinchilla{1.69337, 406.401, 410.723, 0.33917, 0.28491};

TEST(PowerLaw, RecoversAnExactLaw) {
  std::vector<double> x, y;
  for (double c : {1e18, 1e19, 1e20, 1e21}) x.push_back(c), y.push_back(0.3 * std::pow(c, 0.49));
  std::string why;
  const auto law = fit_power_law(x, y, &why);
  ASSERT_TRUE(law) << why;
  EXPECT_NEAR(law->exponent, 0.49, 1e-12);
  EXPECT_NEAR(law->coefficient / 0.3, 1, 1e-9);
}

TEST(PowerLaw, NeedsTwoDistinctPoints) {
  std::string why;
  EXPECT_FALSE(fit_power_law({1e18, 1e18}, {5, 6}, &why));
  EXPECT_NE(why.find("2 distinct"), std::string::npos) << why;
}

TEST(OffsetPowerLaw, RecoversIrreducibleLossExponentAndScale) {
  const OffsetPowerLaw truth{1.7, 8.8e13, 0.076};  // Kaplan's L(N) with an offset
  std::vector<double> x, loss;
  for (double n = 1e6; n <= 1e11; n *= 3) x.push_back(n), loss.push_back(truth.at(n));
  std::string why;
  const auto law = fit_offset_power_law(x, loss, true, &why);
  ASSERT_TRUE(law) << why;
  EXPECT_NEAR(law->E, truth.E, 1e-4);
  EXPECT_NEAR(law->exponent, truth.exponent, 1e-4);
  EXPECT_NEAR(std::log(law->scale) / std::log(truth.scale), 1, 1e-3);
}

TEST(OffsetPowerLaw, WithoutOffsetIsThePlainPowerLaw) {
  std::vector<double> x, loss;
  for (double c : {1e15, 1e16, 1e17}) x.push_back(c), loss.push_back(std::pow(2.3e8 / c, 0.05));
  const auto law = fit_offset_power_law(x, loss, false, nullptr);
  ASSERT_TRUE(law);
  EXPECT_EQ(law->E, 0);
  EXPECT_NEAR(law->exponent, 0.05, 1e-10);
  EXPECT_NEAR(law->scale / 2.3e8, 1, 1e-6);
}

TEST(OffsetPowerLaw, OffsetNeedsFourPoints) {
  std::string why;
  EXPECT_FALSE(fit_offset_power_law({1, 2, 3}, {3, 2, 1.5}, true, &why));
  EXPECT_NE(why.find("4 distinct"), std::string::npos) << why;
}

TEST(Parabola, FindsTheVertexOfAProfile) {
  // L = 3 + 0.05·(ln N − ln 2e6)²
  std::vector<double> n, loss;
  for (double p : {2e5, 6e5, 2e6, 6e6, 2e7}) {
    n.push_back(p);
    loss.push_back(3 + 0.05 * std::pow(std::log(p / 2e6), 2));
  }
  std::string why;
  const auto parabola = fit_parabola(n, loss, &why);
  ASSERT_TRUE(parabola) << why;
  EXPECT_NEAR(parabola->vertex_params() / 2e6, 1, 1e-9);
  EXPECT_NEAR(parabola->vertex_loss(), 3, 1e-12);
  EXPECT_NEAR(parabola->at(6e5), loss[1], 1e-12);
}

TEST(Parabola, FlatOrBendingDownProfilesHaveNoMinimum) {
  std::string why;
  EXPECT_FALSE(fit_parabola({1e5, 1e6, 1e7, 1e8}, {3, 3, 3, 3}, &why));
  EXPECT_NE(why.find("no minimum"), std::string::npos) << why;
  EXPECT_FALSE(fit_parabola({1e5, 1e6, 1e7}, {3, 3.5, 3}, &why));  // concave
  EXPECT_FALSE(fit_parabola({1e5, 1e6}, {3, 2}, &why));
  EXPECT_NE(why.find("3 sizes"), std::string::npos) << why;
}

TEST(ParametricLaw, ChinchillaConstantsGiveAOfAbout0457) {
  EXPECT_NEAR(kChinchilla.a(), 0.457, 0.0005) << "a = " << kChinchilla.a();
  EXPECT_NEAR(kChinchilla.b(), 0.543, 0.0005);
  EXPECT_NEAR(kChinchilla.a() + kChinchilla.b(), 1, 1e-15);
}

// The closed form against brute force: minimise L(N, C/6N) over a fine grid
// of ln N at budgets from 1e18 to 1e26.
TEST(ParametricLaw, ClosedFormFrontierMatchesBruteForce) {
  for (double compute : {1e18, 1e20, 5.76e23, 1e26}) {
    double best_n = 0, best_loss = INFINITY;
    for (double log_n = std::log(1e6); log_n < std::log(1e14); log_n += 1e-4) {
      const double n = std::exp(log_n);
      const double loss = kChinchilla.loss(n, compute / (6 * n));
      if (loss < best_loss) best_loss = loss, best_n = n;
    }
    const double closed = kChinchilla.optimal_params(compute, 6);
    EXPECT_NEAR(closed / best_n, 1, 2e-4)
        << "C = " << compute << ": closed form " << closed << ", brute force " << best_n;
    EXPECT_NEAR(kChinchilla.optimal_tokens(compute, 6) * closed * 6 / compute, 1, 1e-12);
    EXPECT_LE(kChinchilla.loss(closed, compute / (6 * closed)), best_loss + 1e-12);
  }
}

// The constants as usually quoted (two decimals) give another frontier: at
// 1e26 FLOPs N_opt moves by more than 20% (docs/fit.md has the numbers).
TEST(ParametricLaw, RoundedConstantsMoveTheProjection) {
  const ParametricLaw rounded{1.69, 406.4, 410.7, 0.34, 0.28};
  const double c = 1e26;
  const double exact = kChinchilla.optimal_params(c, 6), approx = rounded.optimal_params(c, 6);
  EXPECT_GT(std::abs(approx / exact - 1), 0.2)
      << "rounding α, β to two decimals moves N_opt(1e26) from " << exact << " to " << approx;
}

}  // namespace
}  // namespace sweep::fit
