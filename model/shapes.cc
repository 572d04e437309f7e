#include "model/shapes.h"

#include <algorithm>
#include <cmath>

#include "model/counting.h"

namespace sweep {
namespace {

// Key/value heads for n_head query heads: the largest divisor of n_head not
// above `wanted` (0 = n_head: multi-head attention).
int64_t kv_heads_for(int64_t n_head, int64_t wanted) {
  if (wanted <= 0 || wanted >= n_head) return n_head;
  for (int64_t kv = wanted; kv > 1; --kv) {
    if (n_head % kv == 0) return kv;
  }
  return 1;
}


// The N a rule aims at: total parameters, or the active ones (moe).
double target_count(const ModelConfig& c) { return double(count_params(c).active); }

double counted_params(int64_t n_layer, int64_t d_model, const ShapeRule& rule) {
  return target_count(shape_of(n_layer, d_model, rule));
}

// Width (a multiple of head_dim) whose count is nearest `target` at this depth.
// The count is increasing in d, so bisect over the multiples.
int64_t best_width(int64_t n_layer, double target, const ShapeRule& rule) {
  int64_t lo = 1, hi = 1;
  while (counted_params(n_layer, hi * rule.head_dim, rule) < target && hi < (int64_t(1) << 20)) {
    hi *= 2;
  }
  while (hi - lo > 1) {
    const int64_t mid = (lo + hi) / 2;
    if (counted_params(n_layer, mid * rule.head_dim, rule) < target)
      lo = mid;
    else
      hi = mid;
  }
  const double below =
      std::fabs(std::log(counted_params(n_layer, lo * rule.head_dim, rule) / target));
  const double above =
      std::fabs(std::log(counted_params(n_layer, hi * rule.head_dim, rule) / target));
  return (below <= above ? lo : hi) * rule.head_dim;
}

// Depth a model of `target` (active) parameters would have at exactly the asked
// aspect ratio, as a real number: the L with total(L, aspect * L) = target.
// total() grows with L (more and wider layers), so bisect.
double depth_at_aspect(double target, const ShapeRule& rule) {
  auto total_at = [&](double layers) {
    const int64_t width = std::max<int64_t>(1, std::llround(rule.aspect_ratio * layers));
    const double one = target_count(shape_of(1, width, rule));
    const double per_layer = target_count(shape_of(2, width, rule)) - one;
    return one + (layers - 1) * per_layer;
  };
  double lo = 0, hi = 1;
  while (total_at(hi) < target && hi < 1e6) hi *= 2;
  for (int i = 0; i < 60; ++i) {
    const double mid = 0.5 * (lo + hi);
    (total_at(mid) < target ? lo : hi) = mid;
  }
  return hi;
}

}  // namespace

ModelConfig shape_of(int64_t n_layer, int64_t d_model, const ShapeRule& rule) {
  ModelConfig c;
  c.family = rule.family;
  c.n_layer = n_layer;
  c.d_model = d_model;
  // At least one head: the aspect-ratio search below also counts widths that
  // are not multiples of head_dim.
  c.n_head = std::max<int64_t>(1, d_model / rule.head_dim);
  c.vocab_size = rule.vocab_size;
  c.seq_len = rule.seq_len;
  c.tie_embeddings = rule.tie_embeddings;
  switch (rule.family) {
    case Family::kGpt2:
      c.d_ff = std::max<int64_t>(1, std::llround(rule.ffn_mult * double(d_model)));
      break;
    case Family::kMoe:
      c.n_experts = rule.n_experts;
      c.top_k = rule.top_k;
      c.n_shared_experts = rule.n_shared_experts;
      c.capacity_factor = rule.capacity_factor;
      c.aux_loss_coef = rule.aux_loss_coef;
      [[fallthrough]];
    case Family::kLlama: {
      // Llama's rule: ffn_mult * d_model rounded up to a multiple of
      // ffn_multiple_of (the epsilon keeps 8/3 * 96 = 256 from becoming 257).
      const int64_t multiple = std::max<int64_t>(1, rule.ffn_multiple_of);
      const double units = std::ceil(rule.ffn_mult * double(d_model) / double(multiple) - 1e-9);
      c.d_ff = multiple * std::max<int64_t>(1, int64_t(units));
      c.n_kv_head = kv_heads_for(c.n_head, rule.n_kv_head);
      c.rope_theta = rule.rope_theta;
      break;
    }
    case Family::kLstm:
      c.d_ff = 0;  // no MLP; n_head only keeps head_dim() defined
      break;
  }
  return c;
}

int64_t depth_for_params(double target_params, const ShapeRule& rule) {
  if (rule.layers > 0) return rule.layers;  // a fixed depth (Kaplan's depth studies, LSTMs)
  const double depth = depth_at_aspect(target_params, rule);
  // Round in log space: between n and n+1 layers the aspect ratio is off by
  // the same factor either way at sqrt(n (n+1)).
  int64_t n_layer = std::max<int64_t>(1, static_cast<int64_t>(std::floor(depth)));
  if (depth >= std::sqrt(double(n_layer) * double(n_layer + 1))) ++n_layer;
  return std::max(n_layer, rule.min_layers);
}

ModelConfig smallest_shape(const ShapeRule& rule) {
  return shape_of(rule.layers > 0 ? rule.layers : rule.min_layers, rule.head_dim, rule);
}

ModelConfig shape_for_params(double target_params, const ShapeRule& rule) {
  const int64_t n_layer = depth_for_params(target_params, rule);
  return shape_of(n_layer, best_width(n_layer, target_params, rule), rule);
}

}  // namespace sweep
