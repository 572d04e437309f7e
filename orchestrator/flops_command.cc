// `sweepd flops`: parameters and training FLOPs per token of one shape under
// every convention, so numbers can be checked against papers (docs/flops.md).

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
  auto positive = [](int64_t v, const char* flag) {
    if (v <= 0)
      throw UserError(std::string("sweepd flops: ") + flag + " = " + std::to_string(v) +
                      ": must be a positive integer");
  };
  positive(m.n_layer, "--n-layer");
  positive(m.d_model, "--d-model");
  positive(m.n_head, "--n-head");
  positive(m.d_ff, "--d-ff");
  positive(m.vocab_size, "--vocab");
  positive(m.seq_len, "--seq-len");
  if (m.d_model % m.n_head != 0) {
    throw UserError("sweepd flops: --n-head = " + std::to_string(m.n_head) + ": d_model (" +
                    std::to_string(m.d_model) + ") must be a multiple of n_head");
  }
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
  // Table A4 of Hoffmann et al. leaves out the embedding and logit terms.
  const double chinchilla_no_embed = 3.0 * forward.without_embeddings() / double(m.seq_len);

  if (options.json) {
    nlohmann::json out;
    out["shape"] = {{"n_layer", m.n_layer}, {"d_model", m.d_model},
                    {"n_head", m.n_head},   {"head_dim", m.head_dim()},
                    {"d_ff", m.d_ff},       {"vocab_size", m.vocab_size},
                    {"seq_len", m.seq_len}, {"tie_embeddings", m.tie_embeddings}};
    out["params"] = {{"total", params.total},
                     {"non_embedding", params.non_embedding},
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
        {"final_logits", forward.final_logits},
        {"total", forward.total()}};
    std::cout << out.dump(2) << '\n';
    return 0;
  }

  std::printf(
      "shape: %lld layers, d_model %lld, %lld heads of %lld, d_ff %lld, vocab %lld, "
      "seq_len %lld, %s embeddings\n\n",
      (long long)m.n_layer, (long long)m.d_model, (long long)m.n_head, (long long)m.head_dim(),
      (long long)m.d_ff, (long long)m.vocab_size, (long long)m.seq_len,
      m.tie_embeddings ? "tied" : "untied");
  std::printf("parameters (GPT-2 layout: learned positions, biases, LayerNorm)\n");
  std::printf("  total               %16s  (%s)\n", with_commas(params.total).c_str(),
              format_count(double(params.total)).c_str());
  std::printf("  non-embedding       %16s  (%s)\n", with_commas(params.non_embedding).c_str(),
              format_count(double(params.non_embedding)).c_str());
  std::printf("  token embedding     %16s\n", with_commas(params.token_embedding).c_str());
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
                                                  {"final logits", forward.final_logits}};
  for (const auto& [name, value] : terms) {
    std::printf("  %-19s %12.4e  (%4.1f%%)\n", name, value, 100.0 * value / forward.total());
  }
  std::printf("  %-19s %12.4e\n", "total", forward.total());
  return 0;
}

}  // namespace sweep
