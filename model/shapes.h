#pragma once
// Shapes from a target parameter count.
//
// A scaling study varies N while keeping the architecture's proportions, as
// Llama and Cerebras-GPT do: the width-to-depth ratio d_model / n_layer roughly
// constant, a fixed head dimension, and d_ff a fixed multiple of d_model. Only
// whole layers and widths that are multiples of head_dim exist, so the realized
// N differs from the target; the realized N is what runs record and fits use.
//
// Depth grows with N alone: the depth the target would have at exactly the
// asked aspect ratio, rounded (in log space) to whole layers and never below
// min_layers; the width is then the multiple of head_dim whose total N is
// nearest the target at that depth. Depth never decreases as the target grows,
// so a sweep never puts a shallower model between two deeper neighbours (an
// earlier rule traded N error against aspect error per model and let tiny
// neighbouring sizes jump between one and two layers; docs/prediction.md
// measures what that cost). Large models land within a few percent of the
// target at nearly the asked aspect; tiny ones miss N by up to half a head's
// width and their aspect by up to the rounding of one layer.
//
// Families. The N aimed at is count_params().active: the total for dense
// families, the parameters a token uses for moe (whose n_experts, top_k and
// shared experts stay fixed while width and depth grow). gpt2: d_ff =
// round(ffn_mult * d_model). llama, moe: d_ff = ffn_multiple_of *
// ceil(ffn_mult * d_model / ffn_multiple_of) (Llama's rule; the job reader
// sets ffn_mult 8/3 for them), and n_kv_head the largest divisor of n_head
// not above rule.n_kv_head. lstm: the same depth and width search (the width
// a multiple of head_dim, which is only the step between widths). A rule
// with layers > 0 fixes the depth of every size for every family: Kaplan et
// al. 2020 vary width alone in their depth studies and keep their LSTMs at
// one to four layers.

#include <cstdint>

#include "model/config.h"

namespace sweep {

struct ShapeRule {
  Family family = Family::kGpt2;
  double aspect_ratio = 64.0;  // d_model / n_layer
  int64_t head_dim = 64;       // d_model is a multiple of it; n_head = d_model / head_dim
                               // (lstm: the step between widths)
  double ffn_mult = 4.0;       // d_ff = round(ffn_mult * d_model) (gpt2), or rounded up
                               // to a multiple of ffn_multiple_of (llama, moe)
  int64_t ffn_multiple_of = 1;
  int64_t vocab_size = 256;
  int64_t seq_len = 256;
  bool tie_embeddings = true;
  int64_t min_layers = 1;  // no model of the sweep is shallower
  int64_t layers = 0;      // every size this deep (width alone grows); 0 = by aspect_ratio
  // Grouped-query attention (llama, moe): key/value heads of every size, the
  // largest divisor of n_head not above it; 0 = n_head (multi-head attention).
  int64_t n_kv_head = 0;
  double rope_theta = 10000;
  // Mixture of experts (moe): fixed across sizes while width and depth grow.
  int64_t n_experts = 8;
  int64_t top_k = 2;
  int64_t n_shared_experts = 0;
  double capacity_factor = 0;  // 0 = dropless
  double aux_loss_coef = 0.01;
};

// The shape for a model of about `target_params` parameters: total ones, or
// active ones for a mixture of experts (ParamCount::active: the N its law uses).
ModelConfig shape_for_params(double target_params, const ShapeRule& rule);

// The model of `rule` with this depth and width: heads, d_ff, kv heads and
// experts as the rule derives them (what shape_for_params builds at the
// depth and width it chooses).
ModelConfig shape_of(int64_t n_layer, int64_t d_model, const ShapeRule& rule);

// n_layer of shape_for_params(target_params, rule).
int64_t depth_for_params(double target_params, const ShapeRule& rule);

// The smallest model the rule can build: min_layers layers, d_model = head_dim.
ModelConfig smallest_shape(const ShapeRule& rule);

}  // namespace sweep
