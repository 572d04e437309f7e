#include "model/llama.h"

#include <cmath>

#include "model/fused_ops.h"
#include "model/moe.h"
#include "model/torch_version.h"

namespace sweep {
namespace {
namespace F = torch::nn::functional;

// Llama 2's RMSNorm epsilon.
constexpr double kNormEps = 1e-5;

}  // namespace

torch::nn::Linear llama_linear(int64_t in, int64_t out, double std) {
  torch::nn::Linear linear(torch::nn::LinearOptions(in, out).bias(false));
  torch::NoGradGuard no_grad;
  torch::nn::init::normal_(linear->weight, 0.0, std);
  return linear;
}

torch::Tensor apply_rotary(const torch::Tensor& x, torch::Tensor cos, torch::Tensor sin) {
  const int64_t half = x.size(-1) / 2;
  cos = cos.to(x.scalar_type());  // bf16 under autocast stays bf16
  sin = sin.to(x.scalar_type());
  const torch::Tensor x1 = x.narrow(-1, 0, half), x2 = x.narrow(-1, half, half);
  return torch::cat({x1 * cos - x2 * sin, x2 * cos + x1 * sin}, -1);
}

RMSNormImpl::RMSNormImpl(int64_t dim, double eps) : eps_(eps) {
  weight = register_parameter("weight", torch::ones({dim}));
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) { return rms_norm(x, weight, eps_); }

RotaryTable::RotaryTable(int64_t seq_len, int64_t head_dim, double theta) {
  // inv_freq_i = theta^(-2i / head_dim), i < head_dim / 2; angle = position * inv_freq.
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32);
  const torch::Tensor inv_freq =
      torch::pow(theta, -torch::arange(0, head_dim / 2, f32) * (2.0 / double(head_dim)));
  const torch::Tensor angles = torch::outer(torch::arange(seq_len, f32), inv_freq);
  cos_ = angles.cos();  // (seq_len, hd/2)
  sin_ = angles.sin();
}

std::pair<torch::Tensor, torch::Tensor> RotaryTable::get(int64_t T, const torch::Device& device) {
  TORCH_CHECK(T <= cos_.size(0), "sequence of ", T, " tokens exceeds the rotary table");
  if (device.is_cpu()) return {cos_.narrow(0, 0, T), sin_.narrow(0, 0, T)};
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = by_device_.find(device.str());
  if (it == by_device_.end())
    it = by_device_.emplace(device.str(), std::make_pair(cos_.to(device), sin_.to(device))).first;
  return {it->second.first.narrow(0, 0, T), it->second.second.narrow(0, 0, T)};
}

LlamaAttentionImpl::LlamaAttentionImpl(const ModelConfig& c, std::shared_ptr<RotaryTable> rotary)
    : n_head_(c.n_head),
      n_kv_head_(c.kv_heads()),
      head_dim_(c.head_dim()),
      rotary_(std::move(rotary)) {
  TORCH_CHECK(n_head_ % n_kv_head_ == 0, "n_head (", n_head_, ") must be a multiple of n_kv_head (",
              n_kv_head_, ")");
  const int64_t kv = n_kv_head_ * head_dim_;
  c_attn = register_module("c_attn", llama_linear(c.d_model, c.d_model + 2 * kv, 0.02));
  c_proj = register_module("c_proj",
                           llama_linear(c.d_model, c.d_model, 0.02 / std::sqrt(2.0 * c.n_layer)));
}

torch::Tensor LlamaAttentionImpl::forward(const torch::Tensor& x) {
  const int64_t B = x.size(0), T = x.size(1), C = x.size(2);
  const auto [cos, sin] = rotary_->get(T, x.device());
  auto [q, k, v] = rotary_heads(c_attn(x), n_head_, n_kv_head_, head_dim_, cos, sin);
  const int64_t group = n_head_ / n_kv_head_;
#if SWEEP_TORCH_AT_LEAST(2, 5)
  // CUDA's flash kernel takes the key/value heads as they are; the CPU's
  // flash kernel does not (it would fall back to the unfused path), so
  // there each key/value head is repeated for the query heads of its group.
  const bool gqa_in_kernel = group > 1 && x.is_cuda();
#else
  const bool gqa_in_kernel = false;
#endif
  if (group > 1 && !gqa_in_kernel) {
    auto repeat = [&](const torch::Tensor& t) {  // (B, kv, T, hd) -> (B, H, T, hd)
      return t.unsqueeze(2)
          .expand({B, n_kv_head_, group, T, head_dim_})
          .reshape({B, n_head_, T, head_dim_});
    };
    k = repeat(k);
    v = repeat(v);
  }
#if SWEEP_TORCH_AT_LEAST(2, 5)
  torch::Tensor y = at::scaled_dot_product_attention(q, k, v, /*attn_mask=*/{}, /*dropout_p=*/0.0,
                                                     /*is_causal=*/true, /*scale=*/std::nullopt,
                                                     /*enable_gqa=*/gqa_in_kernel);
#elif SWEEP_TORCH_AT_LEAST(2, 0)
  torch::Tensor y = at::scaled_dot_product_attention(q, k, v, /*attn_mask=*/{}, /*dropout_p=*/0.0,
                                                     /*is_causal=*/true);
#else
  torch::Tensor scores = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(double(head_dim_));
  const auto mask = torch::ones({T, T}, x.options().dtype(torch::kBool)).triu(1);
  torch::Tensor y = torch::matmul(scores.masked_fill(mask, -INFINITY).softmax(-1), v);
#endif
  return c_proj(y.transpose(1, 2).reshape({B, T, C}));  // (B, T, C)
}

SwiGLUImpl::SwiGLUImpl(int64_t d_model, int64_t d_ff, int64_t n_layer) {
  c_fc = register_module("c_fc", llama_linear(d_model, d_ff, 0.02));
  c_fc2 = register_module("c_fc2", llama_linear(d_model, d_ff, 0.02));
  c_proj = register_module("c_proj", llama_linear(d_ff, d_model, 0.02 / std::sqrt(2.0 * n_layer)));
}

torch::Tensor SwiGLUImpl::forward(const torch::Tensor& x) {
  return c_proj(F::silu(c_fc(x)) * c_fc2(x));
}

LlamaBlock::LlamaBlock(const ModelConfig& c, std::shared_ptr<RotaryTable> rotary,
                       const LanguageModel* model) {
  ln_1 = register_module("ln_1", RMSNorm(c.d_model, kNormEps));
  attn = register_module("attn", LlamaAttention(c, std::move(rotary)));
  ln_2 = register_module("ln_2", RMSNorm(c.d_model, kNormEps));
  if (c.family == Family::kMoe) {
    mlp = torch::nn::AnyModule(register_module("mlp", MoE(c, model)));
  } else {
    mlp = torch::nn::AnyModule(register_module("mlp", SwiGLU(c.d_model, c.d_ff, c.n_layer)));
  }
}

torch::Tensor LlamaBlock::forward(const torch::Tensor& input) {
  const torch::Tensor x = input + attn(ln_1(input));
  return x + mlp.forward(ln_2(x));
}

Llama::Llama(const ModelConfig& c) : LanguageModel(c) {
  TORCH_CHECK(c.family == Family::kLlama || c.family == Family::kMoe,
              "Llama builds the llama and moe families");
  TORCH_CHECK(c.d_model % c.n_head == 0 && c.head_dim() % 2 == 0,
              "d_model must be n_head heads of an even head_dim");
  wte = register_module("wte", torch::nn::Embedding(c.vocab_size, c.d_model));
  {
    torch::NoGradGuard no_grad;
    torch::nn::init::normal_(wte->weight, 0.0, 0.02);
  }
  auto rotary = std::make_shared<RotaryTable>(c.seq_len, c.head_dim(), c.rope_theta);
  std::vector<std::shared_ptr<ModelBlock>> blocks;
  for (int64_t i = 0; i < c.n_layer; ++i)
    blocks.push_back(std::make_shared<LlamaBlock>(c, rotary, this));
  register_blocks(std::move(blocks));
  ln_f = register_module("ln_f", RMSNorm(c.d_model, kNormEps));
  if (!c.tie_embeddings)
    lm_head = register_module("lm_head", llama_linear(c.d_model, c.vocab_size, 0.02));
}

torch::Tensor Llama::forward(const torch::Tensor& idx) {
  const ModelConfig& c = config();
  TORCH_CHECK(idx.size(1) <= c.seq_len, "sequence of ", idx.size(1), " tokens exceeds seq_len ",
              c.seq_len);
  torch::Tensor x = ln_f(run_blocks(wte(idx)));                      // (B, T, C)
  return c.tie_embeddings ? F::linear(x, wte->weight) : lm_head(x);  // (B, T, V)
}

}  // namespace sweep
