// Shapes from a target N: realized N near the target, proportions kept.

#include <gtest/gtest.h>

#include <cmath>

#include "model/counting.h"
#include "model/shapes.h"

namespace sweep {
namespace {

TEST(Shapes, LargeModelsLandWithinFivePercentAtTheAskedAspect) {
  ShapeRule rule;
  rule.aspect_ratio = 80;
  rule.head_dim = 128;
  rule.vocab_size = 50304;
  rule.seq_len = 2048;
  for (double target = 5e7; target <= 2e10; target *= 1.37) {
    const GPTConfig c = shape_for_params(target, rule);
    const double realized = double(count_params(c).total);
    EXPECT_NEAR(realized / target, 1.0, 0.05) << "target " << target;
    EXPECT_EQ(c.d_model % rule.head_dim, 0);
    EXPECT_EQ(c.n_head * rule.head_dim, c.d_model);
    EXPECT_EQ(c.d_ff, 4 * c.d_model);
    EXPECT_LT(std::fabs(std::log(c.aspect_ratio() / 80.0)), std::log(1.6))
        << "target " << target << " got " << c.n_layer << "x" << c.d_model;
  }
}

TEST(Shapes, RealizedSizeGrowsWithTheTarget) {
  ShapeRule rule;
  rule.aspect_ratio = 32;
  rule.head_dim = 8;
  rule.vocab_size = 256;
  rule.seq_len = 128;
  int64_t previous = 0;
  for (double target = 3e3; target <= 3e6; target *= 1.2) {
    const int64_t realized = count_params(shape_for_params(target, rule)).total;
    EXPECT_GE(realized, previous) << "target " << target;
    previous = realized;
  }
}

TEST(Shapes, TinyModelsKeepProportionsRatherThanStackingNarrowLayers) {
  ShapeRule rule;
  rule.aspect_ratio = 32;
  rule.head_dim = 16;
  rule.vocab_size = 256;
  rule.seq_len = 128;
  const GPTConfig c = shape_for_params(29e3, rule);
  EXPECT_GE(c.aspect_ratio(), 16.0) << c.n_layer << "x" << c.d_model;
}

TEST(Shapes, SmallestShapeIsOneLayerOneHead) {
  ShapeRule rule;
  rule.head_dim = 16;
  const GPTConfig c = smallest_shape(rule);
  EXPECT_EQ(c.n_layer, 1);
  EXPECT_EQ(c.d_model, 16);
  EXPECT_EQ(c.n_head, 1);
  EXPECT_EQ(shape_for_params(1.0, rule).d_model, 16);
}

}  // namespace
}  // namespace sweep
