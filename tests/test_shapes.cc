// Shapes from a target N: realized N near the target, proportions kept.

#include <gtest/gtest.h>

#include <cmath>

#include "model/counting.h"
#include "model/shapes.h"

namespace sweep {
namespace {

// At a fixed depth N moves in steps of one head's width: the realized N is the
// nearest of those steps, so it is off by at most about half a step (for
// d_model ~1000 and heads of 128: +-13%).
TEST(Shapes, LargeModelsLandNearTheTargetAtTheAskedAspect) {
  ShapeRule rule;
  rule.aspect_ratio = 80;
  rule.head_dim = 128;
  rule.vocab_size = 50304;
  rule.seq_len = 2048;
  for (double target = 5e7; target <= 2e10; target *= 1.37) {
    const ModelConfig c = shape_for_params(target, rule);
    const double realized = double(count_params(c).total);
    EXPECT_NEAR(realized / target, 1.0, 0.15) << "target " << target;
    for (const int64_t step : {-rule.head_dim, rule.head_dim}) {
      ModelConfig other = c;
      other.d_model += step;
      other.n_head = other.d_model / rule.head_dim;
      other.d_ff = 4 * other.d_model;
      EXPECT_LE(std::fabs(std::log(realized / target)),
                std::fabs(std::log(double(count_params(other).total) / target)))
          << "target " << target;
    }
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
  const ModelConfig c = shape_for_params(29e3, rule);
  EXPECT_GE(c.aspect_ratio(), 16.0) << c.n_layer << "x" << c.d_model;
}

// Depth is a function of the target alone and never decreases as it grows:
// no size of a sweep is shallower than a smaller one.
TEST(Shapes, DepthNeverDecreasesAsTheTargetGrows) {
  for (const double aspect : {16.0, 32.0, 64.0}) {
    ShapeRule rule;
    rule.aspect_ratio = aspect;
    rule.head_dim = 8;
    rule.vocab_size = 256;
    rule.seq_len = 128;
    int64_t previous = 0;
    bool deepened = false;
    for (double target = 2e3; target <= 5e7; target *= 1.05) {
      const ModelConfig c = shape_for_params(target, rule);
      EXPECT_GE(c.n_layer, previous) << "aspect " << aspect << " target " << target;
      EXPECT_EQ(c.n_layer, depth_for_params(target, rule));
      deepened |= previous > 0 && c.n_layer > previous;
      previous = c.n_layer;
    }
    EXPECT_TRUE(deepened) << "aspect " << aspect;
    EXPECT_GE(previous, 8) << "aspect " << aspect;
  }
}

TEST(Shapes, MinLayersIsAFloorAndTheWidthStillMeetsTheTarget) {
  ShapeRule rule;
  rule.aspect_ratio = 32;
  rule.head_dim = 8;
  rule.vocab_size = 256;
  rule.seq_len = 128;
  rule.min_layers = 3;
  for (const double target : {1.6e4, 3e4, 6e4}) {
    const ModelConfig c = shape_for_params(target, rule);
    EXPECT_EQ(c.n_layer, 3) << "target " << target;
    EXPECT_NEAR(double(count_params(c).total) / target, 1.0, 0.2) << "target " << target;
  }
  // Above the floor the depth is the rule's own.
  EXPECT_GT(shape_for_params(5e6, rule).n_layer, 3);
  EXPECT_EQ(smallest_shape(rule).n_layer, 3);
}

TEST(Shapes, SmallestShapeIsOneLayerOneHead) {
  ShapeRule rule;
  rule.head_dim = 16;
  const ModelConfig c = smallest_shape(rule);
  EXPECT_EQ(c.n_layer, 1);
  EXPECT_EQ(c.d_model, 16);
  EXPECT_EQ(c.n_head, 1);
  EXPECT_EQ(shape_for_params(1.0, rule).d_model, 16);
}

}  // namespace
}  // namespace sweep
