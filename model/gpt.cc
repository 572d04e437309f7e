#include "model/gpt.h"

#include <cmath>

#include "model/torch_version.h"

namespace sweep {
namespace {
namespace F = torch::nn::functional;

// nanoGPT: weights ~ N(0, 0.02), biases 0; the residual projections (c_proj)
// ~ N(0, 0.02 / sqrt(2 n_layer)) so the residual stream's variance does not
// grow with depth (GPT-2 paper).
void init_linear(torch::nn::Linear& linear, double std) {
  torch::NoGradGuard no_grad;
  torch::nn::init::normal_(linear->weight, 0.0, std);
  if (linear->bias.defined()) torch::nn::init::zeros_(linear->bias);
}

// A biased projection of (B, T, C) as PyTorch's nn.Linear computes it:
// at::linear folds the tokens into one addmm with the bias. The LibTorch
// module's forward (torch::nn::functional::linear) does a matmul and then
// adds the bias in a second pass over the output.
torch::Tensor project(const torch::nn::Linear& linear, const torch::Tensor& x) {
  return at::linear(x, linear->weight, linear->bias);
}

torch::nn::LayerNorm layer_norm(int64_t d_model) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({d_model}).eps(1e-5));
}

}  // namespace

CausalSelfAttentionImpl::CausalSelfAttentionImpl(const ModelConfig& c)
    : n_head_(c.n_head), d_model_(c.d_model) {
  c_attn = register_module("c_attn", torch::nn::Linear(c.d_model, 3 * c.d_model));
  c_proj = register_module("c_proj", torch::nn::Linear(c.d_model, c.d_model));
  init_linear(c_attn, 0.02);
  init_linear(c_proj, 0.02 / std::sqrt(2.0 * double(c.n_layer)));
}

torch::Tensor CausalSelfAttentionImpl::forward(const torch::Tensor& x) {
  const int64_t B = x.size(0), T = x.size(1), head_dim = d_model_ / n_head_;
  auto qkv = project(c_attn, x).split(d_model_, /*dim=*/2);  // 3 x (B, T, C)
  auto heads = [&](const torch::Tensor& t) {
    return t.view({B, T, n_head_, head_dim}).transpose(1, 2);  // (B, H, T, hd)
  };
  const torch::Tensor q = heads(qkv[0]), k = heads(qkv[1]), v = heads(qkv[2]);
#if SWEEP_TORCH_AT_LEAST(2, 0)
  torch::Tensor y = at::scaled_dot_product_attention(q, k, v, /*attn_mask=*/{}, /*dropout_p=*/0.0,
                                                     /*is_causal=*/true);
#else
  // LibTorch 1.x has no fused attention: the explicit causal softmax.
  torch::Tensor scores = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(double(head_dim));
  const auto mask = torch::ones({T, T}, x.options().dtype(torch::kBool)).triu(1);
  torch::Tensor y = torch::matmul(scores.masked_fill(mask, -INFINITY).softmax(-1), v);
#endif
  y = y.transpose(1, 2).contiguous().view({B, T, d_model_});  // (B, T, C)
  return project(c_proj, y);
}

MLPImpl::MLPImpl(const ModelConfig& c) {
  c_fc = register_module("c_fc", torch::nn::Linear(c.d_model, c.d_ff));
  c_proj = register_module("c_proj", torch::nn::Linear(c.d_ff, c.d_model));
  init_linear(c_fc, 0.02);
  init_linear(c_proj, 0.02 / std::sqrt(2.0 * double(c.n_layer)));
}

torch::Tensor MLPImpl::forward(const torch::Tensor& x) {
  return project(c_proj, F::gelu(project(c_fc, x)));
}

GPTBlock::GPTBlock(const ModelConfig& c) {
  ln_1 = register_module("ln_1", layer_norm(c.d_model));
  attn = register_module("attn", CausalSelfAttention(c));
  ln_2 = register_module("ln_2", layer_norm(c.d_model));
  mlp = register_module("mlp", MLP(c));
}

torch::Tensor GPTBlock::forward(const torch::Tensor& input) {
  const torch::Tensor x = input + attn(ln_1(input));
  return x + mlp(ln_2(x));
}

GPT::GPT(const ModelConfig& c) : LanguageModel(c) {
  wte = register_module("wte", torch::nn::Embedding(c.vocab_size, c.d_model));
  wpe = register_module("wpe", torch::nn::Embedding(c.seq_len, c.d_model));
  std::vector<std::shared_ptr<ModelBlock>> blocks;
  for (int64_t i = 0; i < c.n_layer; ++i) blocks.push_back(std::make_shared<GPTBlock>(c));
  register_blocks(std::move(blocks));
  ln_f = register_module("ln_f", layer_norm(c.d_model));
  torch::NoGradGuard no_grad;
  torch::nn::init::normal_(wte->weight, 0.0, 0.02);
  torch::nn::init::normal_(wpe->weight, 0.0, 0.02);
  if (!c.tie_embeddings) {
    lm_head = register_module(
        "lm_head",
        torch::nn::Linear(torch::nn::LinearOptions(c.d_model, c.vocab_size).bias(false)));
    init_linear(lm_head, 0.02);
  }
}

torch::Tensor GPT::forward(const torch::Tensor& idx) {
  const ModelConfig& c = config();
  const int64_t T = idx.size(1);
  TORCH_CHECK(T <= c.seq_len, "sequence of ", T, " tokens exceeds seq_len ", c.seq_len);
  const auto positions = torch::arange(T, idx.options());
  torch::Tensor x = run_blocks(wte(idx) + wpe(positions));  // (B, T, C)
  x = ln_f(x);
  return c.tie_embeddings ? F::linear(x, wte->weight) : lm_head(x);  // (B, T, V)
}

}  // namespace sweep
