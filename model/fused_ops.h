#pragma once
// Two pieces of the llama and moe blocks that LibTorch runs on the CPU as
// chains of small kernels: RMSNorm (ATen has no fused CPU kernel: pow, mean,
// add, rsqrt and two muls forward, about fifteen kernels backward) and the
// rotary embedding of the query and key heads (per tensor two narrows, four
// muls, a sub, an add and a cat forward, a dozen kernels backward, and the
// split projection's gradients copied together again). Here each is one
// pass over its rows forward and one backward: a custom autograd function
// whose loops run on LibTorch's own OpenMP threads (at::parallel_for).
//
// The functions are the same functions as the ATen chains (tests/
// test_fused_ops.cc compares values and gradients); only float32 CPU tensors
// take the fused path, anything else (CUDA, where at::rms_norm and SDPA are
// fused kernels already, bf16 under autocast) the ATen ops. At laptop sizes
// the chains' cost is mostly per-kernel overhead: bench/RESULTS.md measures
// the blocks with and without these (SWEEP_FUSED_OPS=0 turns them off).

#include <torch/torch.h>

namespace sweep {

// Whether the fused CPU path is on (default yes; SWEEP_FUSED_OPS=0 turns it
// off for the process, read once: the bench compares the two).
bool fused_ops_enabled();

// x * rsqrt(mean(x^2, -1) + eps) * weight over the last dimension.
// x: (..., C); weight: (C).
torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps);

// The fused attention projection's output split into heads, the query and
// key heads rotated by their positions' angles: pairs (i, i + hd/2) of each
// head, (x1, x2) -> (x1 cos - x2 sin, x2 cos + x1 sin) ("rotate half", as
// Hugging Face's Llama). qkv: (B, T, n_head * hd + 2 * n_kv_head * hd) with
// the query's, the key's and the value's heads in that order; cos, sin:
// (T, hd/2). Returns q (B, n_head, T, hd), k and v (B, n_kv_head, T, hd).
struct AttentionHeads {
  torch::Tensor q, k, v;
};
AttentionHeads rotary_heads(const torch::Tensor& qkv, int64_t n_head, int64_t n_kv_head,
                            int64_t head_dim, const torch::Tensor& cos, const torch::Tensor& sin);

}  // namespace sweep
