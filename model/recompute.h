#pragma once
// Activation checkpointing: y = f(x) that keeps only x for backward and runs
// f again (with gradients) when backward reaches it, as torch.utils.checkpoint
// does in its reentrant form. Gradients of the parameters f uses accumulate
// into their .grad as usual; the gradient of x is returned to the outer graph.
// f must be deterministic (sweepd's blocks have no dropout). The autocast
// state of the forward is restored for the recomputation.

#include <torch/torch.h>

#include <functional>

namespace sweep {

torch::Tensor recompute_in_backward(std::function<torch::Tensor(const torch::Tensor&)> f,
                                    const torch::Tensor& x);

}  // namespace sweep
