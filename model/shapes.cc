#include "model/shapes.h"

#include <algorithm>
#include <cmath>

#include "model/counting.h"

namespace sweep {
namespace {

GPTConfig make_shape(int64_t n_layer, int64_t d_model, const ShapeRule& rule) {
  GPTConfig c;
  c.n_layer = n_layer;
  c.d_model = d_model;
  c.n_head = d_model / rule.head_dim;
  c.d_ff = std::max<int64_t>(1, std::llround(rule.ffn_mult * double(d_model)));
  c.vocab_size = rule.vocab_size;
  c.seq_len = rule.seq_len;
  c.tie_embeddings = rule.tie_embeddings;
  return c;
}

double total_params(int64_t n_layer, int64_t d_model, const ShapeRule& rule) {
  return double(count_params(make_shape(n_layer, d_model, rule)).total);
}

// Width (a multiple of head_dim) whose total is nearest `target` at this depth.
// total(d) is increasing in d, so bisect over the multiples.
int64_t best_width(int64_t n_layer, double target, const ShapeRule& rule) {
  int64_t lo = 1, hi = 1;
  while (total_params(n_layer, hi * rule.head_dim, rule) < target && hi < (int64_t(1) << 20)) {
    hi *= 2;
  }
  while (hi - lo > 1) {
    const int64_t mid = (lo + hi) / 2;
    if (total_params(n_layer, mid * rule.head_dim, rule) < target)
      lo = mid;
    else
      hi = mid;
  }
  const double below =
      std::fabs(std::log(total_params(n_layer, lo * rule.head_dim, rule) / target));
  const double above =
      std::fabs(std::log(total_params(n_layer, hi * rule.head_dim, rule) / target));
  return (below <= above ? lo : hi) * rule.head_dim;
}

}  // namespace

GPTConfig smallest_shape(const ShapeRule& rule) { return make_shape(1, rule.head_dim, rule); }

GPTConfig shape_for_params(double target_params, const ShapeRule& rule) {
  const double params_scale = std::log(1.1), aspect_scale = std::log(2.0);
  GPTConfig best;
  double best_cost = INFINITY;
  // N ~ 12 aspect^2 n_layer^3; depths beyond 4x that are never chosen.
  const int64_t ideal_depth = std::max<int64_t>(
      1, std::llround(std::cbrt(target_params / (12.0 * rule.aspect_ratio * rule.aspect_ratio))));
  const int64_t max_depth = std::max<int64_t>(8, 4 * ideal_depth);
  for (int64_t n_layer = 1; n_layer <= max_depth; ++n_layer) {
    const GPTConfig shape = make_shape(n_layer, best_width(n_layer, target_params, rule), rule);
    const double params_error =
        std::log(double(count_params(shape).total) / target_params) / params_scale;
    const double aspect_error = std::log(shape.aspect_ratio() / rule.aspect_ratio) / aspect_scale;
    const double cost = params_error * params_error + aspect_error * aspect_error;
    if (cost < best_cost) {
      best_cost = cost;
      best = shape;
    }
  }
  return best;
}

}  // namespace sweep
