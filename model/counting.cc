#include "model/counting.h"

namespace sweep {

ParamCount count_params(const ModelConfig& c) {
  const int64_t d = c.d_model;
  // One block, nanoGPT layout: ln_1, attn.c_attn (d -> 3d, bias), attn.c_proj
  // (d -> d, bias), ln_2, mlp.c_fc (d -> d_ff, bias), mlp.c_proj (d_ff -> d, bias).
  const int64_t layer_norm = 2 * d;  // weight + bias
  const int64_t attention = d * 3 * d + 3 * d + d * d + d;
  const int64_t mlp = d * c.d_ff + c.d_ff + c.d_ff * d + d;
  const int64_t block = 2 * layer_norm + attention + mlp;

  ParamCount count;
  count.token_embedding = c.vocab_size * d;
  count.position_embedding = c.seq_len * d;
  count.lm_head = c.tie_embeddings ? 0 : c.vocab_size * d;
  count.non_embedding = c.n_layer * block + layer_norm /*ln_f*/;
  count.total =
      count.non_embedding + count.token_embedding + count.position_embedding + count.lm_head;
  count.active = count.total;
  count.active_non_embedding = count.non_embedding;
  return count;
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
         attention_output + dense;
}

ChinchillaForwardFlops chinchilla_forward_flops(const ModelConfig& c) {
  // Doubles throughout: for a 70B model the per-sequence count overflows nothing
  // but products of int64s would approach their range.
  const double T = double(c.seq_len), V = double(c.vocab_size), d = double(c.d_model);
  const double H = double(c.n_head), F = double(c.d_ff), L = double(c.n_layer);
  const double attn = double(c.head_dim()) * H;  // key_size * num_heads
  ChinchillaForwardFlops f;
  f.embeddings = 2 * T * V * d;
  f.attention_qkv = L * 2 * 3 * T * d * attn;
  f.attention_logits = L * 2 * T * T * attn;
  f.attention_softmax = L * 3 * H * T * T;
  f.attention_values = L * 2 * T * T * attn;
  f.attention_output = L * 2 * T * attn * d;
  f.dense = L * 2 * T * (d * F + d * F);
  f.final_logits = 2 * T * d * V;
  return f;
}

double training_flops_per_token(const ModelConfig& c, FlopConvention convention) {
  const ParamCount params = count_params(c);
  switch (convention) {
    case FlopConvention::kSixN:
      return 6.0 * double(params.total);
    case FlopConvention::kKaplan: {
      const double d_attn = double(c.head_dim() * c.n_head);
      return 6.0 * double(params.non_embedding) +
             6.0 * double(c.n_layer) * double(c.seq_len) * d_attn;
    }
    case FlopConvention::kChinchilla:
      return 3.0 * chinchilla_forward_flops(c).total() / double(c.seq_len);
  }
  return 0.0;
}

}  // namespace sweep
