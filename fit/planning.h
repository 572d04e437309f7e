#pragma once
// Planning with a fitted law: what compute costs on real hardware, and the
// model that is cheapest to train *and serve*.
//
// Capacity: wall time = C / (GPUs · peak · MFU), with peak the accelerator's
// dense bf16 rate (`sweepd capacity --gpu` reads model/hardware.h's table). The inverse gives the FLOPs that fit in a
// given time. GPT-3 (175B parameters, 300B tokens): 6·N·D = 3.15e23 FLOPs,
// about 29 days on 1,000 A100s at 40% MFU.
//
// Inference-aware optimum (Sardana et al., "Beyond Chinchilla-Optimal", 2024):
// for a target loss ℓ and an expected D_inf inference tokens, choose N and the
// training tokens D to minimise k·N·D + (k/3)·N·D_inf subject to
// L(N, D) = ℓ (approach 3's law; k = 6 gives the paper's 6ND + 2N·D_inf). On
// that constraint D(N) = (B / (ℓ − E − A/N^α))^(1/β), defined for N above
// (A / (ℓ − E))^(1/α); the cost is a one-dimensional minimisation in ln N. The
// Chinchilla-optimal model of the same loss is the same problem with D_inf = 0.

#include <optional>
#include <string>
#include <vector>

#include "fit/analysis.h"
#include "fit/laws.h"

namespace sweep::fit {

double training_seconds(double flops, double peak_flops, double gpus, double mfu);
double trainable_flops(double seconds, double peak_flops, double gpus, double mfu);

// `gpus` accelerators of `peak_flops` FLOP/s each at `mfu`: what training
// `flops` takes (or, given days, the FLOPs that fit), in the units people plan
// with. FLOPs are operations, FLOP/s a rate; days of 86,400 s.
struct CapacityPlan {
  double peak_flops = 0;  // FLOP/s per GPU (dense bf16)
  double gpus = 1, mfu = 0.4;
  double cluster_rate = 0;  // FLOP/s: gpus · peak · mfu
  double flops = 0;         // training compute
  double days = 0;
  double gpu_hours = 0;  // days · 24 · gpus
};
CapacityPlan capacity_for_flops(double flops, double peak_flops, double gpus, double mfu);
CapacityPlan capacity_for_days(double days, double peak_flops, double gpus, double mfu);

struct ModelCost {
  double params = 0, tokens = 0;  // N and training tokens D
  double train_flops = 0, inference_flops = 0;
  double total_flops() const { return train_flops + inference_flops; }
};

struct InferenceAwarePlan {
  ModelCost inference_aware;  // minimises training + inference
  ModelCost chinchilla;       // minimises training alone, same loss, same inference
  double saving = 0;          // 1 − total(inference_aware) / total(chinchilla)
};

// Empty with `why` set when the target loss is at or below E.
std::optional<InferenceAwarePlan> inference_aware_optimum(const ParametricLaw& law,
                                                          double target_loss,
                                                          double inference_tokens, double k,
                                                          std::string* why);

// With the bootstrap: approach 3's loss of a model (N, D), and the
// inference-aware optimum, each number with its interval over the
// replicates' laws. Both need usable() approach 3 (analysis.full.a3).
Quantity model_loss(const Analysis& analysis, double params, double tokens);

struct InferenceAwareEstimate {
  InferenceAwarePlan plan;  // on the full data's law
  Quantity params, tokens;  // the inference-aware model
  Quantity chinchilla_params, chinchilla_tokens;
  Quantity saving;  // a share of total FLOPs (0.25 = 25%)
};
// Empty with `why` set when approach 3 was not fitted or the target loss is at
// or below E.
std::optional<InferenceAwareEstimate> inference_aware_estimate(const Analysis& analysis,
                                                               double target_loss,
                                                               double inference_tokens,
                                                               std::string* why);

}  // namespace sweep::fit
