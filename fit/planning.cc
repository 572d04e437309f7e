#include "fit/planning.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "common/format.h"

namespace sweep::fit {

double training_seconds(double flops, double peak_flops, double gpus, double mfu) {
  return flops / (gpus * peak_flops * mfu);
}

double trainable_flops(double seconds, double peak_flops, double gpus, double mfu) {
  return seconds * gpus * peak_flops * mfu;
}

namespace {
constexpr double kSecondsPerDay = 86400;
}  // namespace

CapacityPlan capacity_for_flops(double flops, double peak_flops, double gpus, double mfu) {
  CapacityPlan plan;
  plan.peak_flops = peak_flops, plan.gpus = gpus, plan.mfu = mfu;
  plan.cluster_rate = gpus * peak_flops * mfu;
  plan.flops = flops;
  const double seconds = training_seconds(flops, peak_flops, gpus, mfu);
  plan.days = seconds / kSecondsPerDay;
  plan.gpu_hours = seconds / 3600 * gpus;
  return plan;
}

CapacityPlan capacity_for_days(double days, double peak_flops, double gpus, double mfu) {
  return capacity_for_flops(trainable_flops(days * kSecondsPerDay, peak_flops, gpus, mfu),
                            peak_flops, gpus, mfu);
}

namespace {

// The cheapest model of loss `target` for `inference_tokens`, searched in
// ln N above the smallest N that can reach the target at all.
ModelCost cheapest(const ParametricLaw& law, double target, double inference_tokens, double k) {
  const double reducible = target - law.E;
  const double log_n_min = std::log(law.A / reducible) / law.alpha;
  auto cost_at = [&](double log_n) {
    ModelCost c;
    c.params = std::exp(log_n);
    const double left = reducible - law.A / std::pow(c.params, law.alpha);
    if (!(left > 0)) return ModelCost{c.params, INFINITY, INFINITY, INFINITY};
    c.tokens = std::pow(law.B / left, 1 / law.beta);
    c.train_flops = k * c.params * c.tokens;
    c.inference_flops = k / 3 * c.params * inference_tokens;
    return c;
  };
  // A coarse scan over 30 e-folds, then golden-section search around the best.
  constexpr int kScan = 3000;
  constexpr double kSpan = 30;
  double best_x = log_n_min + kSpan, best = INFINITY;
  for (int i = 1; i <= kScan; ++i) {
    const double x = log_n_min + kSpan * i / kScan;
    const double c = cost_at(x).total_flops();
    if (c < best) best = c, best_x = x;
  }
  double lo = best_x - kSpan / kScan, hi = best_x + kSpan / kScan;
  const double phi = (std::sqrt(5.0) - 1) / 2;
  for (int i = 0; i < 100; ++i) {
    const double x1 = hi - phi * (hi - lo), x2 = lo + phi * (hi - lo);
    if (cost_at(x1).total_flops() < cost_at(x2).total_flops())
      hi = x2;
    else
      lo = x1;
  }
  return cost_at(0.5 * (lo + hi));
}

}  // namespace

std::optional<InferenceAwarePlan> inference_aware_optimum(const ParametricLaw& law,
                                                          double target_loss,
                                                          double inference_tokens, double k,
                                                          std::string* why) {
  if (!(target_loss > law.E)) {
    if (why)
      *why = "the target loss " + format_sci(target_loss, 4) +
             " is not above the irreducible loss E = " + format_sci(law.E, 4);
    return std::nullopt;
  }
  if (!(inference_tokens >= 0)) {
    if (why) *why = "inference tokens must be >= 0";
    return std::nullopt;
  }
  InferenceAwarePlan plan;
  plan.inference_aware = cheapest(law, target_loss, inference_tokens, k);
  plan.chinchilla = cheapest(law, target_loss, 0, k);
  plan.chinchilla.inference_flops = k / 3 * plan.chinchilla.params * inference_tokens;
  plan.saving = 1 - plan.inference_aware.total_flops() / plan.chinchilla.total_flops();
  return plan;
}

Quantity model_loss(const Analysis& analysis, double params, double tokens) {
  // A trained model's loss varies with its seed as well as with the law.
  return with_seed_noise(
      interval_of(
          "loss", analysis.full, analysis.replicates, analysis.options.confidence,
          [&](const ReplicateLaws& r) { return r.a3 ? r.a3->loss(params, tokens) : double(NAN); }),
      analysis.noise);
}

std::optional<InferenceAwareEstimate> inference_aware_estimate(const Analysis& analysis,
                                                               double target_loss,
                                                               double inference_tokens,
                                                               std::string* why) {
  if (!analysis.full.a3) {
    if (why) {
      const auto it = analysis.laws.why.find("a3");
      *why = "approach 3 was not fitted: " +
             (it != analysis.laws.why.end() ? it->second : std::string("not requested"));
    }
    return std::nullopt;
  }
  const double k = analysis.flops_per_param_token;
  const auto plan =
      inference_aware_optimum(*analysis.full.a3, target_loss, inference_tokens, k, why);
  if (!plan) return std::nullopt;
  auto interval = [&](const char* key, double (*pick)(const InferenceAwarePlan&)) {
    return interval_of(key, analysis.full, analysis.replicates, analysis.options.confidence,
                       [&](const ReplicateLaws& r) {
                         if (!r.a3) return double(NAN);
                         const auto p = inference_aware_optimum(*r.a3, target_loss,
                                                                inference_tokens, k, nullptr);
                         return p ? pick(*p) : double(NAN);
                       });
  };
  InferenceAwareEstimate estimate;
  estimate.plan = *plan;
  estimate.params =
      interval("params", [](const InferenceAwarePlan& p) { return p.inference_aware.params; });
  estimate.tokens =
      interval("tokens", [](const InferenceAwarePlan& p) { return p.inference_aware.tokens; });
  estimate.chinchilla_params = interval(
      "chinchilla_params", [](const InferenceAwarePlan& p) { return p.chinchilla.params; });
  estimate.chinchilla_tokens = interval(
      "chinchilla_tokens", [](const InferenceAwarePlan& p) { return p.chinchilla.tokens; });
  estimate.saving = interval("saving", [](const InferenceAwarePlan& p) { return p.saving; });
  return estimate;
}

}  // namespace sweep::fit
