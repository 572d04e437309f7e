#pragma once
// Shapes from a target parameter count.
//
// A scaling study varies N while keeping the architecture's proportions, as
// Llama and Cerebras-GPT do: the width-to-depth ratio d_model / n_layer roughly
// constant, a fixed head dimension, and d_ff a fixed multiple of d_model. Only
// whole layers and widths that are multiples of head_dim exist, so the realized
// N differs from the target; the realized N is what runs record and fits use.
//
// Search: for every depth, the width whose total parameter count is nearest the
// target; among those, the one with the smallest
//   (ln(N / target) / ln(1.1))^2 + (ln(aspect / asked aspect) / ln 2)^2,
// i.e. 10% off in N costs as much as a factor 2 off in aspect ratio. Large
// models have fine-grained widths and land within a few percent of the target
// at nearly the asked aspect; tiny ones (a few layers of a few heads) keep
// their proportions and accept a larger miss in N rather than becoming 7 layers
// of width 16.

#include <cstdint>

#include "model/config.h"

namespace sweep {

struct ShapeRule {
  double aspect_ratio = 64.0;  // d_model / n_layer
  int64_t head_dim = 64;       // d_model is a multiple of it; n_head = d_model / head_dim
  double ffn_mult = 4.0;       // d_ff = round(ffn_mult * d_model)
  int64_t vocab_size = 256;
  int64_t seq_len = 256;
  bool tie_embeddings = true;
};

// The shape for a model of about `target_params` total parameters.
GPTConfig shape_for_params(double target_params, const ShapeRule& rule);

// The smallest model the rule can build: one layer, d_model = head_dim.
GPTConfig smallest_shape(const ShapeRule& rule);

}  // namespace sweep
