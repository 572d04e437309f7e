#include "model/counting.h"

#include <algorithm>

namespace sweep {

namespace {

// One block's parameters by kind, as each family's module lays it out.
struct BlockCount {
  int64_t vectors = 0;         // norm weights and biases
  int64_t matrices = 0;        // weight matrices a token always uses
  int64_t routed_experts = 0;  // moe: all routed experts' matrices
  int64_t active_experts = 0;  // moe: the top_k of them one token uses
  int64_t total() const { return vectors + matrices + routed_experts; }
  int64_t active() const { return vectors + matrices + active_experts; }
};

BlockCount block_count(const ModelConfig& c) {
  const int64_t d = c.d_model, f = c.d_ff;
  BlockCount b;
  switch (c.family) {
    case Family::kGpt2:
      // nanoGPT: ln_1, attn.c_attn (d -> 3d, bias), attn.c_proj (d -> d,
      // bias), ln_2, mlp.c_fc (d -> d_ff, bias), mlp.c_proj (d_ff -> d, bias).
      b.matrices = 3 * d * d + d * d + d * f + f * d;
      b.vectors = 2 * (2 * d) + 3 * d + d + f + d;
      break;
    case Family::kLlama:
    case Family::kMoe: {
      // ln_1, ln_2 (RMSNorm weights); attn.c_attn (d -> query d + key and
      // value 2 n_kv_head head_dim), attn.c_proj (d -> d); no biases.
      const int64_t kv = c.kv_heads() * c.head_dim();
      const int64_t swiglu = 3 * d * f;  // c_fc, c_fc2 (d -> f), c_proj (f -> d)
      b.vectors = 2 * d;
      b.matrices = d * (d + 2 * kv) + d * d;
      if (c.family == Family::kLlama) {
        b.matrices += swiglu;
      } else {
        // mlp.router (d -> E), mlp.shared_experts (one SwiGLU of width
        // n_shared_experts * d_ff), mlp.experts (E SwiGLUs of width d_ff).
        b.matrices += d * c.n_experts + c.n_shared_experts * swiglu;
        b.routed_experts = c.n_experts * swiglu;
        b.active_experts = std::min(c.top_k, c.n_experts) * swiglu;
      }
      break;
    }
    case Family::kLstm:
      // weight_ih, weight_hh (4d x d: input, forget, cell, output gates),
      // bias_ih, bias_hh (4d), as torch.nn.LSTM has them.
      b.matrices = 2 * 4 * d * d;
      b.vectors = 2 * 4 * d;
      break;
  }
  return b;
}

}  // namespace

ParamCount count_params(const ModelConfig& c) {
  const int64_t d = c.d_model;
  const BlockCount block = block_count(c);
  // ln_f: LayerNorm (weight + bias) for gpt2 and lstm, RMSNorm (weight) for
  // llama and moe.
  const bool rms = c.family == Family::kLlama || c.family == Family::kMoe;
  const int64_t ln_f = rms ? d : 2 * d;

  ParamCount count;
  count.token_embedding = c.vocab_size * d;
  count.position_embedding = c.family == Family::kGpt2 ? c.seq_len * d : 0;
  count.lm_head = c.tie_embeddings ? 0 : c.vocab_size * d;
  const int64_t embeddings = count.token_embedding + count.position_embedding + count.lm_head;
  count.non_embedding = c.n_layer * block.total() + ln_f;
  count.total = count.non_embedding + embeddings;
  count.active_non_embedding = c.n_layer * block.active() + ln_f;
  count.active = count.active_non_embedding + embeddings;
  return count;
}

int64_t params_per_block(const ModelConfig& config) { return block_count(config).total(); }

int64_t matrix_params_per_block(const ModelConfig& config) {
  const BlockCount b = block_count(config);
  return b.matrices + b.routed_experts;
}

std::optional<FlopConvention> parse_flop_convention(std::string_view name) {
  if (name == "6N") return FlopConvention::kSixN;
  if (name == "kaplan") return FlopConvention::kKaplan;
  if (name == "chinchilla") return FlopConvention::kChinchilla;
  return std::nullopt;
}

const char* to_string(FlopConvention convention) {
  switch (convention) {
    case FlopConvention::kSixN:
      return "6N";
    case FlopConvention::kKaplan:
      return "kaplan";
    case FlopConvention::kChinchilla:
      return "chinchilla";
  }
  return "?";
}

double ChinchillaForwardFlops::total() const {
  return without_embeddings() + embeddings + final_logits;
}

double ChinchillaForwardFlops::without_embeddings() const {
  return attention_qkv + attention_logits + attention_softmax + attention_values +
         attention_output + dense + router + recurrent;
}

ChinchillaForwardFlops chinchilla_forward_flops(const ModelConfig& c) {
  // Doubles throughout: for a 70B model the per-sequence count overflows nothing
  // but products of int64s would approach their range.
  const double T = double(c.seq_len), V = double(c.vocab_size), d = double(c.d_model);
  const double L = double(c.n_layer), F = double(c.d_ff);
  ChinchillaForwardFlops f;
  f.embeddings = 2 * T * V * d;
  f.final_logits = 2 * T * d * V;
  if (c.family == Family::kLstm) {
    // Per layer and token: the four gates' products with the input and the
    // previous hidden state (2 * 4d * (d + d)), and 21 d elementwise: the
    // two products and two biases summed (3 * 4d), three sigmoids and two
    // tanh (5d), the cell update f*c + i*g (3d) and h = o * tanh(c) (d).
    f.recurrent = L * T * (2 * 4 * d * (d + d) + 21 * d);
    return f;
  }
  const double H = double(c.n_head), kq = double(c.head_dim());
  const double attn = kq * H;  // key_size * num_heads
  const double kv_heads = double(c.kv_heads());
  f.attention_qkv = c.family == Family::kGpt2 ? L * 2 * 3 * T * d * attn
                                              : L * 2 * T * d * kq * (H + 2 * kv_heads);
  f.attention_logits = L * 2 * T * T * attn;
  f.attention_softmax = L * 3 * H * T * T;
  f.attention_values = L * 2 * T * T * attn;
  f.attention_output = L * 2 * T * attn * d;
  switch (c.family) {
    case Family::kGpt2:
      f.dense = L * 2 * T * (d * F + d * F);
      break;
    case Family::kLlama:
      f.dense = L * 2 * T * 3 * d * F;
      break;
    case Family::kMoe: {
      const double experts = double(std::min(c.top_k, c.n_experts) + c.n_shared_experts);
      f.dense = L * 2 * T * 3 * d * F * experts;
      f.router = L * 2 * T * d * double(c.n_experts);
      break;
    }
    case Family::kLstm:
      break;
  }
  return f;
}

double training_flops_per_token(const ModelConfig& c, FlopConvention convention) {
  const ParamCount params = count_params(c);
  switch (convention) {
    case FlopConvention::kSixN:
      return 6.0 * double(params.active);
    case FlopConvention::kKaplan: {
      // The context term is attention's QK^T and softmax x V: none in an LSTM.
      const double d_attn = c.attention() ? double(c.head_dim() * c.n_head) : 0.0;
      return 6.0 * double(params.active_non_embedding) +
             6.0 * double(c.n_layer) * double(c.seq_len) * d_attn;
    }
    case FlopConvention::kChinchilla:
      return 3.0 * chinchilla_forward_flops(c).total() / double(c.seq_len);
  }
  return 0.0;
}

}  // namespace sweep
