#pragma once
// The llama family ("Transformer++": Llama, Mistral, TinyLlama) in LibTorch,
// and the block the moe family shares: pre-RMSNorm blocks, rotary position
// embeddings, grouped-query causal attention, a SwiGLU MLP, no biases, an
// untied lm_head unless the config ties it. Initialised as nanoGPT does
// (N(0, 0.02), residual projections N(0, 0.02 / sqrt(2 n_layer))).
//
// Parameter names follow nanoGPT's where the parts are the same (wte, h.0.ln_1,
// h.0.attn.c_attn, h.0.attn.c_proj, ln_f, lm_head); the SwiGLU MLP is
// h.0.mlp.c_fc (gate, Llama's w1), h.0.mlp.c_fc2 (up, w3) and h.0.mlp.c_proj
// (down, w2). c_attn holds the query's d_model rows and then the key's and
// the value's n_kv_head * head_dim rows each, so one matmul makes all three.
// For moe (model/moe.h) the MLP is a routed mixture of experts.
//
// Rotary embeddings (Su et al. 2021) rotate pairs (i, i + head_dim/2) of each
// query and key head, the "rotate half" layout of Hugging Face's Llama; the
// cos/sin table is computed once per device and has no parameters.
//
// The model's parameter count equals count_params() in model/counting.h
// (tests/test_families.cc).

#include <torch/torch.h>

#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include "model/language_model.h"

namespace sweep {

// RMSNorm (Zhang and Sennrich 2019) with a weight and no bias.
class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t dim, double eps);
  torch::Tensor forward(const torch::Tensor& x);

  torch::Tensor weight;  // (C)

 private:
  double eps_;
};
TORCH_MODULE(RMSNorm);

// cos and sin of the rotary angles for positions 0..seq_len-1, each
// (seq_len, head_dim / 2): angle(p, i) = p * theta^(-2i / head_dim).
// Shared by every block's attention; a copy is made once per device.
class RotaryTable {
 public:
  RotaryTable(int64_t seq_len, int64_t head_dim, double theta);
  // (T, head_dim / 2) each, on `device`.
  std::pair<torch::Tensor, torch::Tensor> get(int64_t T, const torch::Device& device);

 private:
  torch::Tensor cos_, sin_;  // on the CPU: read without a lock on every forward
  std::mutex mutex_;         // other devices' copies (backward may run on their threads)
  std::unordered_map<std::string, std::pair<torch::Tensor, torch::Tensor>> by_device_;
};

// The rotation of each head's pairs (i, i + head_dim/2) by its position's
// angles: (x1, x2) -> (x1 cos - x2 sin, x2 cos + x1 sin). x: (B, H, T, hd);
// cos, sin: (T, hd/2) from RotaryTable::get.
torch::Tensor apply_rotary(const torch::Tensor& x, torch::Tensor cos, torch::Tensor sin);

class LlamaAttentionImpl : public torch::nn::Module {
 public:
  LlamaAttentionImpl(const ModelConfig& config, std::shared_ptr<RotaryTable> rotary);
  torch::Tensor forward(const torch::Tensor& x);  // (B, T, C) -> (B, T, C)

  torch::nn::Linear c_attn{nullptr};  // C -> C + 2 * n_kv_head * head_dim
  torch::nn::Linear c_proj{nullptr};  // C -> C

 private:
  int64_t n_head_, n_kv_head_, head_dim_;
  std::shared_ptr<RotaryTable> rotary_;
};
TORCH_MODULE(LlamaAttention);

// SwiGLU (Shazeer 2020): c_proj(silu(c_fc(x)) * c_fc2(x)).
class SwiGLUImpl : public torch::nn::Module {
 public:
  SwiGLUImpl(int64_t d_model, int64_t d_ff, int64_t n_layer);
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::Linear c_fc{nullptr};    // C -> d_ff (gate)
  torch::nn::Linear c_fc2{nullptr};   // C -> d_ff (up)
  torch::nn::Linear c_proj{nullptr};  // d_ff -> C (down)
};
TORCH_MODULE(SwiGLU);

class LlamaBlock : public ModelBlock {
 public:
  // `model` is the model that owns the block (its loss weight scales the
  // moe auxiliary loss's gradient).
  LlamaBlock(const ModelConfig& config, std::shared_ptr<RotaryTable> rotary,
             const LanguageModel* model);
  torch::Tensor forward(const torch::Tensor& x) override;

  RMSNorm ln_1{nullptr}, ln_2{nullptr};
  LlamaAttention attn{nullptr};
  torch::nn::AnyModule mlp;  // SwiGLU (llama) or MoE (moe)
};

// Both the llama and the moe family (config.family says which MLP).
class Llama : public LanguageModel {
 public:
  // Initialises weights from LibTorch's global generator (seed it first).
  explicit Llama(const ModelConfig& config);
  torch::Tensor forward(const torch::Tensor& idx) override;

  torch::nn::Embedding wte{nullptr};  // (vocab, C)
  RMSNorm ln_f{nullptr};
  torch::nn::Linear lm_head{nullptr};  // only when untied; tied models use wte.weight
};

// Linear without bias initialised N(0, std): every llama/moe matrix.
torch::nn::Linear llama_linear(int64_t in, int64_t out, double std);

}  // namespace sweep
