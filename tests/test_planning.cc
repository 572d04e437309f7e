// Capacity and the inference-aware optimum (fit/planning.h).

#include <gtest/gtest.h>

#include <cmath>

#include "fit/planning.h"

namespace sweep::fit {
namespace {

const ParametricLaw kChinchilla{1.69337, 406.401, 410.723, 0.33917, 0.28491};

TEST(Capacity, Gpt3TakesAboutTwentyNineDaysOnAThousandA100sAt40Percent) {
  const double flops = 6 * 175e9 * 300e9;
  EXPECT_NEAR(flops, 3.15e23, 1e20);
  const double a100 = 312e12;  // dense bf16 (model/hardware.h's table, tested there)
  const double days = training_seconds(flops, a100, 1000, 0.4) / 86400;
  EXPECT_NEAR(days, 29.2, 0.05) << days;
  EXPECT_NEAR(trainable_flops(days * 86400, a100, 1000, 0.4) / flops, 1, 1e-12);
}

TEST(InferenceAware, WithoutInferenceItIsTheChinchillaOptimum) {
  const double c = 1e22;
  const double n = kChinchilla.optimal_params(c, 6), d = kChinchilla.optimal_tokens(c, 6);
  const double target = kChinchilla.loss(n, d);
  std::string why;
  const auto plan = inference_aware_optimum(kChinchilla, target, 0, 6, &why);
  ASSERT_TRUE(plan) << why;
  EXPECT_NEAR(plan->inference_aware.params / n, 1, 1e-4);
  EXPECT_NEAR(plan->chinchilla.tokens / d, 1, 1e-4);
  EXPECT_NEAR(plan->saving, 0, 1e-9);
}

TEST(InferenceAware, HeavyInferenceMeansASmallerModelTrainedLonger) {
  const double target = 2.2;
  std::string why;
  const auto plan = inference_aware_optimum(kChinchilla, target, 2e12, 6, &why);
  ASSERT_TRUE(plan) << why;
  const ModelCost &ia = plan->inference_aware, &ch = plan->chinchilla;
  EXPECT_LT(ia.params, ch.params);
  EXPECT_GT(ia.tokens / ia.params, ch.tokens / ch.params);
  EXPECT_GT(plan->saving, 0);
  EXPECT_NEAR(kChinchilla.loss(ia.params, ia.tokens), target, 1e-9);
  EXPECT_NEAR(ia.inference_flops, 2 * ia.params * 2e12, 1);
  // No other N on the constraint is cheaper (brute force over ln N).
  const double reducible = target - kChinchilla.E;
  for (double n = ia.params / 3; n < ia.params * 3; n *= 1.01) {
    const double left = reducible - kChinchilla.A / std::pow(n, kChinchilla.alpha);
    if (left <= 0) continue;
    const double d = std::pow(kChinchilla.B / left, 1 / kChinchilla.beta);
    EXPECT_GE(6 * n * d + 2 * n * 2e12, ia.total_flops() * (1 - 1e-9)) << "N = " << n;
  }
}

TEST(InferenceAware, TargetBelowIrreducibleLossIsRefused) {
  std::string why;
  EXPECT_FALSE(inference_aware_optimum(kChinchilla, 1.6, 1e12, 6, &why));
  EXPECT_NE(why.find("irreducible"), std::string::npos) << why;
}

}  // namespace
}  // namespace sweep::fit
