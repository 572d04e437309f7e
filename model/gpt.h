#pragma once
// A GPT-2 style transformer in LibTorch, laid out and initialised as nanoGPT's
// model.py: pre-LayerNorm blocks, GELU MLP, learned positions, causal
// attention (fused scaled_dot_product_attention where LibTorch has it), and an
// lm_head tied to the token embedding unless the config says otherwise.
// Parameter names match nanoGPT's without the "transformer." prefix
// (wte, wpe, h.0.attn.c_attn, ..., ln_f), so counts and shapes compare 1:1.
//
// The gpt2 family (model/config.h); the other families are model/llama.h
// (llama, moe) and model/lstm.h, all behind model/language_model.h.
//
// The model's parameter count equals count_params() in model/counting.h
// (tests/test_model.cc and tests/test_families.cc check it).

#include <torch/torch.h>
#include <torch/version.h>

#include "model/language_model.h"

namespace sweep {

class CausalSelfAttentionImpl : public torch::nn::Module {
 public:
  explicit CausalSelfAttentionImpl(const ModelConfig& config);
  torch::Tensor forward(const torch::Tensor& x);  // (B, T, C) -> (B, T, C)

  torch::nn::Linear c_attn{nullptr};  // C -> 3C: query, key, value for all heads
  torch::nn::Linear c_proj{nullptr};  // C -> C

 private:
  int64_t n_head_, d_model_;
};
TORCH_MODULE(CausalSelfAttention);

class MLPImpl : public torch::nn::Module {
 public:
  explicit MLPImpl(const ModelConfig& config);
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::Linear c_fc{nullptr};    // C -> d_ff
  torch::nn::Linear c_proj{nullptr};  // d_ff -> C
};
TORCH_MODULE(MLP);

class GPTBlock : public ModelBlock {
 public:
  explicit GPTBlock(const ModelConfig& config);
  torch::Tensor forward(const torch::Tensor& x) override;

  torch::nn::LayerNorm ln_1{nullptr}, ln_2{nullptr};
  CausalSelfAttention attn{nullptr};
  MLP mlp{nullptr};
};

class GPT : public LanguageModel {
 public:
  // Initialises weights from LibTorch's global generator (seed it first).
  explicit GPT(const ModelConfig& config);
  torch::Tensor forward(const torch::Tensor& idx) override;

  torch::nn::Embedding wte{nullptr};  // (vocab, C)
  torch::nn::Embedding wpe{nullptr};  // (seq_len, C)
  torch::nn::LayerNorm ln_f{nullptr};
  torch::nn::Linear lm_head{nullptr};  // only when untied; tied models use wte.weight
};

}  // namespace sweep
