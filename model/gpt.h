#pragma once
// A GPT-2 style transformer in LibTorch, laid out and initialised as nanoGPT's
// model.py: pre-LayerNorm blocks, GELU MLP, learned positions, causal
// attention (fused scaled_dot_product_attention where LibTorch has it), and an
// lm_head tied to the token embedding unless the config says otherwise.
// Parameter names match nanoGPT's without the "transformer." prefix
// (wte, wpe, h.0.attn.c_attn, ..., ln_f), so counts and shapes compare 1:1.
//
// The model's parameter count equals count_params() in model/counting.h
// (tests/test_model.cc checks it).

#include <torch/torch.h>
#include <torch/version.h>

#include <functional>

#include "model/config.h"

namespace sweep {

class CausalSelfAttentionImpl : public torch::nn::Module {
 public:
  explicit CausalSelfAttentionImpl(const GPTConfig& config);
  torch::Tensor forward(const torch::Tensor& x);  // (B, T, C) -> (B, T, C)

  torch::nn::Linear c_attn{nullptr};  // C -> 3C: query, key, value for all heads
  torch::nn::Linear c_proj{nullptr};  // C -> C

 private:
  int64_t n_head_, d_model_;
};
TORCH_MODULE(CausalSelfAttention);

class MLPImpl : public torch::nn::Module {
 public:
  explicit MLPImpl(const GPTConfig& config);
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::Linear c_fc{nullptr};    // C -> d_ff
  torch::nn::Linear c_proj{nullptr};  // d_ff -> C
};
TORCH_MODULE(MLP);

class BlockImpl : public torch::nn::Module {
 public:
  explicit BlockImpl(const GPTConfig& config);
  torch::Tensor forward(torch::Tensor x);

  torch::nn::LayerNorm ln_1{nullptr}, ln_2{nullptr};
  CausalSelfAttention attn{nullptr};
  MLP mlp{nullptr};
};
TORCH_MODULE(Block);

class GPTImpl : public torch::nn::Module {
 public:
  // Initialises weights from LibTorch's global generator (seed it first).
  explicit GPTImpl(const GPTConfig& config);

  // idx: (B, T) int64 token ids, T <= seq_len. Returns logits (B, T, vocab).
  torch::Tensor forward(const torch::Tensor& idx);
  // Mean cross-entropy in nats per token of next-token prediction.
  torch::Tensor loss(const torch::Tensor& idx, const torch::Tensor& targets);

  const GPTConfig& config() const { return config_; }

  // How forward runs block `index` on x: block(x) unless a runner is set
  // (the sharded state gathers a block's parameters around it, and
  // activation checkpointing recomputes it in backward: model/sharded_state.h).
  using BlockRunner = std::function<torch::Tensor(int64_t index, Block& block, const torch::Tensor& x)>;
  void set_block_runner(BlockRunner runner) { runner_ = std::move(runner); }

  torch::nn::Embedding wte{nullptr};  // (vocab, C)
  torch::nn::Embedding wpe{nullptr};  // (seq_len, C)
  torch::nn::ModuleList h{nullptr};   // n_layer blocks
  torch::nn::LayerNorm ln_f{nullptr};
  torch::nn::Linear lm_head{nullptr};  // only when untied; tied models use wte.weight

 private:
  GPTConfig config_;
  std::vector<Block> blocks_;  // the same modules as h, typed
  BlockRunner runner_;
};
TORCH_MODULE(GPT);

}  // namespace sweep
