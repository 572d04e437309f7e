#pragma once
// The moe family's MLP: a routed mixture of SwiGLU experts (Shazeer et al.
// 2017; Switch Transformer, Fedus et al. 2021; Mixtral, Jiang et al. 2024) in
// the llama block (model/llama.h).
//
//   router          Linear(d_model -> n_experts, no bias)
//   experts         n_experts SwiGLU experts of width d_ff, stored as three
//                   (E, ., .) parameters (c_fc, c_fc2: (E, C, d_ff); c_proj:
//                   (E, d_ff, C)) so one parameter holds every expert
//   shared_experts  n_shared_experts always-on SwiGLU experts (DeepSeekMoE),
//                   held as one SwiGLU of width n_shared_experts * d_ff (the
//                   sum of S SwiGLUs is one with their hidden units side by side)
//
// Routing (Mixtral): each token goes to the top_k experts by router logit,
// weighted by the softmax over those k logits. Dispatch sorts the (token,
// choice) pairs by expert, so each expert runs one matmul chain on a
// contiguous slice and the weighted outputs are added back per token with one
// index_add: no per-token loop.
//
// Capacity: with capacity_factor 0 every choice is kept (dropless). Otherwise
// expert e takes at most ceil(capacity_factor * tokens * top_k / n_experts)
// of its choices, the earliest tokens of the micro-batch first (Switch); a
// dropped choice contributes nothing and the residual carries the token.
//
// Load balance (Switch Transformer, eq. 4): aux = n_experts * sum_i f_i P_i,
// f_i the fraction of the micro-batch's top_k choices that picked expert i
// (before capacity drops), P_i the mean router probability (softmax over all
// n_experts) of expert i; 1 at perfect balance. Its gradient enters in
// backward through AuxLossScaler, Megatron's MoEAuxLossAutoScaler: the MoE
// output passes through unchanged and backward gives aux the gradient
// aux_loss_coef * loss_weight() of the owning model. So the loss the loop
// records stays the cross-entropy, and under activation checkpointing (the
// block's forward runs without gradients and again in backward) the
// recomputed forward carries the aux loss to the router.

#include <torch/torch.h>

#include "model/llama.h"

namespace sweep {

class ExpertsImpl : public torch::nn::Module {
 public:
  ExpertsImpl(int64_t n_experts, int64_t d_model, int64_t d_ff, int64_t n_layer);

  torch::Tensor c_fc;    // (E, C, d_ff): gate
  torch::Tensor c_fc2;   // (E, C, d_ff): up
  torch::Tensor c_proj;  // (E, d_ff, C): down
};
TORCH_MODULE(Experts);

class MoEImpl : public torch::nn::Module {
 public:
  // `model` owns the block (its loss_weight() scales the aux gradient).
  MoEImpl(const ModelConfig& config, const LanguageModel* model);
  torch::Tensor forward(const torch::Tensor& x);  // (B, T, C) -> (B, T, C)

  torch::nn::Linear router{nullptr};  // C -> E
  Experts experts{nullptr};
  SwiGLU shared_experts{nullptr};  // only when n_shared_experts > 0

  // The last forward's aux loss (with gradients enabled), for tests and logs.
  torch::Tensor last_aux_loss;

 private:
  int64_t n_experts_, top_k_;
  double capacity_factor_, aux_loss_coef_;
  const LanguageModel* model_;
};
TORCH_MODULE(MoE);

// Returns `output` unchanged; in backward, passes output's gradient through
// and gives `aux` (a scalar) the gradient `scale`.
torch::Tensor attach_aux_loss(const torch::Tensor& output, const torch::Tensor& aux, double scale);

}  // namespace sweep
