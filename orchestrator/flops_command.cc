// `sweepd flops`: parameters and training FLOPs per token of one shape of a
// model family under every convention, so numbers can be checked against
// papers and model cards (docs/flops.md). gpt2's text output is the one it
// always had; the other families add their keys (key/value heads, experts,
// active parameters).

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/format.h"
#include "model/counting.h"
#include "orchestrator/commands.h"

namespace sweep {
namespace {

std::string with_commas(int64_t value) {
  std::string digits = std::to_string(value), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

void validate(const ModelConfig& m) {
  auto fail = [](const std::string& flag, int64_t v, const std::string& why) {
    throw UserError("sweepd flops: " + flag + " = " + std::to_string(v) + ": " + why);
  };
  auto positive = [&](int64_t v, const char* flag) {
    if (v <= 0) fail(flag, v, "must be a positive integer");
  };
  positive(m.n_layer, "--n-layer");
  positive(m.d_model, "--d-model");
  positive(m.vocab_size, "--vocab");
  positive(m.seq_len, "--seq-len");
  if (m.family == Family::kLstm) return;  // no heads, no MLP
  positive(m.n_head, "--n-head");
  positive(m.d_ff, "--d-ff");
  if (m.d_model % m.n_head != 0) {
    fail("--n-head", m.n_head,
         "d_model (" + std::to_string(m.d_model) + ") must be a multiple of n_head");
  }
  if (m.family == Family::kGpt2) return;
  if (m.n_kv_head < 0 || (m.n_kv_head > 0 && m.n_head % m.n_kv_head != 0)) {
    fail("--n-kv-head", m.n_kv_head,
         "n_head (" + std::to_string(m.n_head) + ") must be a multiple of it");
  }
  if (m.family != Family::kMoe) return;
  positive(m.n_experts, "--n-experts");
  positive(m.top_k, "--top-k");
  if (m.top_k > m.n_experts) {
    fail("--top-k", m.top_k, "must not exceed --n-experts (" + std::to_string(m.n_experts) + ")");
  }
  if (m.n_shared_experts < 0) fail("--shared-experts", m.n_shared_experts, "must not be negative");
}

// What the parameter counts cover, per family.
const char* layout(Family family) {
  switch (family) {
    case Family::kGpt2:
      return "GPT-2 layout: learned positions, biases, LayerNorm";
    case Family::kLlama:
      return "llama layout: rotary positions, no biases, RMSNorm, SwiGLU";
    case Family::kMoe:
      return "moe layout: the llama block with routed SwiGLU experts";
    case Family::kLstm:
      return "lstm layout: LSTM layers with torch.nn.LSTM's biases, LayerNorm";
  }
  return "?";
}

void print_shape(const ModelConfig& m) {
  const char* tie = m.tie_embeddings ? "tied" : "untied";
  if (m.family == Family::kGpt2) {
    std::printf(
        "shape: %lld layers, d_model %lld, %lld heads of %lld, d_ff %lld, vocab %lld, "
        "seq_len %lld, %s embeddings\n\n",
        (long long)m.n_layer, (long long)m.d_model, (long long)m.n_head, (long long)m.head_dim(),
        (long long)m.d_ff, (long long)m.vocab_size, (long long)m.seq_len, tie);
    return;
  }
  if (m.family == Family::kLstm) {
    std::printf(
        "shape: lstm, %lld layers of %lld units, vocab %lld, seq_len %lld, %s embeddings\n\n",
        (long long)m.n_layer, (long long)m.d_model, (long long)m.vocab_size, (long long)m.seq_len,
        tie);
    return;
  }
  std::printf(
      "shape: %s, %lld layers, d_model %lld, %lld heads of %lld (%lld key/value), d_ff %lld",
      to_string(m.family), (long long)m.n_layer, (long long)m.d_model, (long long)m.n_head,
      (long long)m.head_dim(), (long long)m.kv_heads(), (long long)m.d_ff);
  if (m.family == Family::kMoe) {
    std::printf(" per expert, %lld experts (top %lld, %lld shared)", (long long)m.n_experts,
                (long long)m.top_k, (long long)m.n_shared_experts);
  }
  std::printf(", vocab %lld, seq_len %lld, %s embeddings\n\n", (long long)m.vocab_size,
              (long long)m.seq_len, tie);
}

}  // namespace

int flops_command(const FlopsOptions& options) {
  const ModelConfig& m = options.model;
  validate(m);
  const ParamCount params = count_params(m);
  const ChinchillaForwardFlops forward = chinchilla_forward_flops(m);
  const double six_n = training_flops_per_token(m, FlopConvention::kSixN);
  const double kaplan = training_flops_per_token(m, FlopConvention::kKaplan);
  const double chinchilla = training_flops_per_token(m, FlopConvention::kChinchilla);
  const bool gpt2 = m.family == Family::kGpt2;
  // Table A4 of Hoffmann et al. leaves out the embedding and logit terms.
  const double chinchilla_no_embed = 3.0 * forward.without_embeddings() / double(m.seq_len);

  if (options.json) {
    nlohmann::json out;
    out["shape"] = {{"family", to_string(m.family)}, {"n_layer", m.n_layer},
                    {"d_model", m.d_model},          {"vocab_size", m.vocab_size},
                    {"seq_len", m.seq_len},          {"tie_embeddings", m.tie_embeddings}};
    if (m.attention()) {
      out["shape"]["n_head"] = m.n_head;
      out["shape"]["head_dim"] = m.head_dim();
      out["shape"]["d_ff"] = m.d_ff;
    }
    if (m.attention() && !gpt2) out["shape"]["n_kv_head"] = m.kv_heads();
    if (m.family == Family::kMoe) {
      out["shape"]["n_experts"] = m.n_experts;
      out["shape"]["top_k"] = m.top_k;
      out["shape"]["n_shared_experts"] = m.n_shared_experts;
    }
    out["params"] = {{"total", params.total},
                     {"non_embedding", params.non_embedding},
                     {"active", params.active},
                     {"active_non_embedding", params.active_non_embedding},
                     {"token_embedding", params.token_embedding},
                     {"position_embedding", params.position_embedding},
                     {"lm_head", params.lm_head}};
    out["training_flops_per_token"] = {{"6N", six_n},
                                       {"kaplan", kaplan},
                                       {"chinchilla", chinchilla},
                                       {"chinchilla_without_embeddings", chinchilla_no_embed}};
    out["chinchilla_forward_flops_per_sequence"] = {
        {"embeddings", forward.embeddings},
        {"attention_qkv", forward.attention_qkv},
        {"attention_logits", forward.attention_logits},
        {"attention_softmax", forward.attention_softmax},
        {"attention_values", forward.attention_values},
        {"attention_output", forward.attention_output},
        {"dense", forward.dense},
        {"router", forward.router},
        {"recurrent", forward.recurrent},
        {"final_logits", forward.final_logits},
        {"total", forward.total()}};
    std::cout << out.dump(2) << '\n';
    return 0;
  }

  print_shape(m);
  std::printf("parameters (%s)\n", layout(m.family));
  std::printf("  total               %16s  (%s)\n", with_commas(params.total).c_str(),
              format_count(double(params.total)).c_str());
  std::printf("  non-embedding       %16s  (%s)\n", with_commas(params.non_embedding).c_str(),
              format_count(double(params.non_embedding)).c_str());
  if (!gpt2) {
    // What one token uses (moe: less the routed experts it is not sent to).
    std::printf("  active              %16s  (%s)\n", with_commas(params.active).c_str(),
                format_count(double(params.active)).c_str());
    std::printf("  active non-embedding%16s  (%s)\n",
                with_commas(params.active_non_embedding).c_str(),
                format_count(double(params.active_non_embedding)).c_str());
  }
  std::printf("  token embedding     %16s\n", with_commas(params.token_embedding).c_str());
  if (gpt2)
    std::printf("  position embedding  %16s\n", with_commas(params.position_embedding).c_str());
  if (params.lm_head)
    std::printf("  lm_head (untied)    %16s\n", with_commas(params.lm_head).c_str());
  std::printf("\ntraining FLOPs per token (forward + backward)\n");
  std::printf("  6N                  %12.4e\n", six_n);
  std::printf("  kaplan              %12.4e  (%.3f x 6N)\n", kaplan, kaplan / six_n);
  std::printf("  chinchilla          %12.4e  (%.3f x 6N)\n", chinchilla, chinchilla / six_n);
  std::printf("  chinchilla w/o emb. %12.4e  (%.3f x 6N; the quantity in Table A4)\n",
              chinchilla_no_embed, chinchilla_no_embed / six_n);
  std::printf("\nchinchilla forward FLOPs per sequence of %lld tokens\n", (long long)m.seq_len);
  const std::pair<const char*, double> terms[] = {{"embeddings", forward.embeddings},
                                                  {"attention qkv", forward.attention_qkv},
                                                  {"attention logits", forward.attention_logits},
                                                  {"attention softmax", forward.attention_softmax},
                                                  {"attention x values", forward.attention_values},
                                                  {"attention output", forward.attention_output},
                                                  {"dense", forward.dense},
                                                  {"router", forward.router},
                                                  {"lstm (recurrent)", forward.recurrent},
                                                  {"final logits", forward.final_logits}};
  for (const auto& [name, value] : terms) {
    if (value == 0) continue;  // a term the family does not have (gpt2 has all but two)
    std::printf("  %-19s %12.4e  (%4.1f%%)\n", name, value, 100.0 * value / forward.total());
  }
  std::printf("  %-19s %12.4e\n", "total", forward.total());
  return 0;
}

}  // namespace sweep
