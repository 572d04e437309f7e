// Shapes from a target N: realized N near the target, proportions kept.

#include <gtest/gtest.h>

#include <cmath>
#include <set>

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

ShapeRule family_rule(Family family) {
  ShapeRule rule;
  rule.family = family;
  rule.aspect_ratio = 64;
  rule.head_dim = 64;
  rule.vocab_size = 32000;
  rule.seq_len = 1024;
  if (family == Family::kLlama || family == Family::kMoe) {
    rule.ffn_mult = 8.0 / 3.0;
    rule.ffn_multiple_of = 256;
    rule.n_kv_head = 4;
    rule.tie_embeddings = false;
  }
  return rule;
}

TEST(Shapes, LlamaSizesRoundTheSwiGluWidthUpAndGroupKeyValueHeads) {
  const ShapeRule rule = family_rule(Family::kLlama);
  for (double target = 1e8; target <= 2e10; target *= 1.6) {
    const ModelConfig c = shape_for_params(target, rule);
    EXPECT_EQ(c.family, Family::kLlama);
    EXPECT_EQ(c.d_ff % 256, 0) << c.d_ff;
    EXPECT_GE(double(c.d_ff), 8.0 / 3.0 * double(c.d_model) - 1e-6) << c.d_model;
    EXPECT_LT(double(c.d_ff), 8.0 / 3.0 * double(c.d_model) + 256) << c.d_model;
    // The largest divisor of n_head not above 4.
    EXPECT_EQ(c.n_head % c.n_kv_head, 0) << c.n_head << " heads, " << c.n_kv_head;
    EXPECT_LE(c.n_kv_head, 4);
    if (c.n_head % 4 == 0) {
      EXPECT_EQ(c.n_kv_head, 4) << c.n_head;
    }
    EXPECT_NEAR(double(count_params(c).total) / target, 1.0, 0.15) << "target " << target;
    EXPECT_LT(std::fabs(std::log(c.aspect_ratio() / 64.0)), std::log(1.6))
        << c.n_layer << "x" << c.d_model;
  }
  // Llama 2 7B's width gives its d_ff, 11008, with the 8/3 rule and multiples of 256.
  ShapeRule seven_b = rule;
  seven_b.head_dim = 128;
  seven_b.layers = 32;
  seven_b.n_kv_head = 0;  // Llama 2 7B has multi-head attention
  const ModelConfig c = shape_for_params(6.74e9, seven_b);
  EXPECT_EQ(c.d_model, 4096);
  EXPECT_EQ(c.d_ff, 11008);
  EXPECT_EQ(c.n_layer, 32);
}

TEST(Shapes, KeyValueHeadsAreTheLargestDivisorNotAboveTheRule) {
  ShapeRule rule = family_rule(Family::kLlama);
  rule.layers = 1;
  rule.head_dim = 16;
  rule.vocab_size = 256;
  rule.n_kv_head = 6;
  std::set<int64_t> head_counts, kv_counts;
  for (double target = 1e4; target <= 3e6; target *= 1.1) {
    const ModelConfig c = shape_for_params(target, rule);
    int64_t expected = 1;
    for (int64_t kv = 1; kv <= std::min<int64_t>(6, c.n_head); ++kv) {
      if (c.n_head % kv == 0) expected = kv;
    }
    EXPECT_EQ(c.n_kv_head, expected) << c.n_head << " heads";
    head_counts.insert(c.n_head);
    kv_counts.insert(c.n_kv_head);
  }
  EXPECT_GT(head_counts.size(), 10u);
  EXPECT_TRUE(kv_counts.count(1) && kv_counts.count(5) && kv_counts.count(6)) << "7, 10, 12 heads";
  rule.n_kv_head = 0;
  const ModelConfig mha = shape_for_params(1e6, rule);
  EXPECT_EQ(mha.kv_heads(), mha.n_head) << "0 = multi-head attention";
}

TEST(Shapes, MixtureOfExpertsAimsAtActiveParametersWithItsExpertsFixed) {
  ShapeRule rule = family_rule(Family::kMoe);
  rule.n_experts = 8;
  rule.top_k = 2;
  rule.n_shared_experts = 1;
  rule.capacity_factor = 1.25;
  int64_t previous = 0;
  for (double target = 1e8; target <= 1e10; target *= 1.5) {
    const ModelConfig c = shape_for_params(target, rule);
    const ParamCount p = count_params(c);
    EXPECT_NEAR(double(p.active) / target, 1.0, 0.15) << "target " << target;
    EXPECT_GT(p.total, p.active);
    EXPECT_EQ(c.n_experts, 8);
    EXPECT_EQ(c.top_k, 2);
    EXPECT_EQ(c.n_shared_experts, 1);
    EXPECT_EQ(c.capacity_factor, 1.25);
    EXPECT_GE(p.active, previous) << "target " << target;
    previous = p.active;
  }
}

TEST(Shapes, FixedLayersHoldEveryFamilysDepthWhileTheWidthMeetsTheTarget) {
  for (const Family family : {Family::kGpt2, Family::kLlama, Family::kMoe, Family::kLstm}) {
    ShapeRule rule = family_rule(family);
    rule.layers = 2;
    rule.head_dim = 16;
    rule.vocab_size = 256;
    int64_t width = 0;
    for (double target = 2e5; target <= 5e7; target *= 2) {
      const ModelConfig c = shape_for_params(target, rule);
      EXPECT_EQ(c.n_layer, 2) << to_string(family) << " target " << target;
      EXPECT_EQ(depth_for_params(target, rule), 2);
      EXPECT_EQ(c.d_model % 16, 0);
      EXPECT_GE(c.d_model, width);
      width = c.d_model;
      const double realized = double(count_params(c).active);
      EXPECT_NEAR(realized / target, 1.0, 0.2) << to_string(family) << " target " << target;
    }
    EXPECT_EQ(smallest_shape(rule).n_layer, 2);
  }
}

TEST(Shapes, LstmDepthFollowsTheAspectRatioWithoutFixedLayers) {
  ShapeRule rule = family_rule(Family::kLstm);
  rule.aspect_ratio = 128;
  rule.head_dim = 32;
  rule.vocab_size = 256;
  const ModelConfig small = shape_for_params(1e6, rule);
  const ModelConfig large = shape_for_params(1e9, rule);
  EXPECT_EQ(small.family, Family::kLstm);
  EXPECT_EQ(small.d_ff, 0);
  EXPECT_GT(large.n_layer, small.n_layer);
  EXPECT_EQ(large.d_model % 32, 0);
  EXPECT_NEAR(double(count_params(large).total) / 1e9, 1.0, 0.15);
  EXPECT_LT(std::fabs(std::log(large.aspect_ratio() / 128.0)), std::log(1.6))
      << large.n_layer << "x" << large.d_model;
}

}  // namespace
}  // namespace sweep
