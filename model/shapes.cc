#include "model/shapes.h"

#include <algorithm>
#include <cmath>

#include "model/counting.h"

namespace sweep {
namespace {

ModelConfig make_shape(int64_t n_layer, int64_t d_model, const ShapeRule& rule) {
  ModelConfig c;
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

// Depth a model of `target` total parameters would have at exactly the asked
// aspect ratio, as a real number: the L with total(L, aspect * L) = target.
// total() grows with L (more and wider layers), so bisect.
double depth_at_aspect(double target, const ShapeRule& rule) {
  auto total_at = [&](double layers) {
    const int64_t width = std::max<int64_t>(1, std::llround(rule.aspect_ratio * layers));
    const ParamCount one = count_params(make_shape(1, width, rule));
    const ParamCount two = count_params(make_shape(2, width, rule));
    const double per_layer = double(two.total - one.total);
    return double(one.total) + (layers - 1) * per_layer;
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

int64_t depth_for_params(double target_params, const ShapeRule& rule) {
  const double depth = depth_at_aspect(target_params, rule);
  // Round in log space: between n and n+1 layers the aspect ratio is off by
  // the same factor either way at sqrt(n (n+1)).
  int64_t n_layer = std::max<int64_t>(1, static_cast<int64_t>(std::floor(depth)));
  if (depth >= std::sqrt(double(n_layer) * double(n_layer + 1))) ++n_layer;
  return std::max(n_layer, rule.min_layers);
}

ModelConfig smallest_shape(const ShapeRule& rule) {
  return make_shape(rule.min_layers, rule.head_dim, rule);
}

ModelConfig shape_for_params(double target_params, const ShapeRule& rule) {
  const int64_t n_layer = depth_for_params(target_params, rule);
  return make_shape(n_layer, best_width(n_layer, target_params, rule), rule);
}

}  // namespace sweep
