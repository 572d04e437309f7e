#pragma once
// The machine's fp32 matrix-multiply rate, measured through LibTorch (so with
// the BLAS LibTorch actually uses in this binary). MFU figures and plan
// estimates are ratios against it.

namespace sweep {

struct MatmulRate {
  double flops_per_second = 0;  // FLOP/s (2 * n^3 per n x n product)
  int size = 0;                 // n of the n x n matrices
  int threads = 0;              // intra-op threads used
};

// Times n x n fp32 products on the CPU for about `seconds`. threads <= 0 keeps
// LibTorch's current setting.
MatmulRate measure_cpu_matmul_rate(int threads, double seconds = 0.3, int size = 512);

}  // namespace sweep

#include <string>

#include "model/config.h"

namespace sweep {

// Seconds per optimizer step of the real training loop (model/train) for one
// shape and batch, on random tokens, after warm-up steps. `device` as in
// TrainConfig. Used to estimate run times before a sweep.
double measure_step_seconds(const ModelConfig& model, int64_t batch_tokens,
                            int64_t micro_batch_tokens, int threads, const std::string& device,
                            int steps = 24);

}  // namespace sweep
