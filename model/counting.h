#pragma once
// Parameter and FLOP counting: the one implementation every part of sweepd uses
// (grid planning, training records, fits, `sweepd flops`). docs/flops.md shows
// the formulas and checks them against published numbers.
//
// Units: FLOPs are floating-point operations (a multiply-accumulate is 2), never
// FLOP/s. "Per token" means per training token, forward + backward.
//
// Parameter conventions:
//  * total          every trainable parameter (wte, wpe, blocks, ln_f; lm_head when untied).
//  * non_embedding  total minus the token embedding, the position embedding and an
//                   untied lm_head (Kaplan et al. 2020's N).
//
// FLOP conventions (training FLOPs per token):
//  * 6N          6 * total parameters.
//  * kaplan      6 * N_non_embedding + 6 * n_layer * seq_len * d_attn
//                (Kaplan et al. 2020, Table 1: forward 2N + 2 n_layer n_ctx d_attn,
//                backward twice the forward).
//  * chinchilla  Hoffmann et al. 2022, Appendix F: embeddings, QKV, QK logits,
//                softmax, attention x V, output projection, feed-forward and final
//                logits, each a matmul at 2 FLOPs per multiply-accumulate, over the
//                full (non-causal) seq_len x seq_len attention; backward = 2 x forward.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "model/config.h"

namespace sweep {

struct ParamCount {
  int64_t total = 0;
  int64_t non_embedding = 0;
  int64_t token_embedding = 0;     // wte: vocab_size x d_model
  int64_t position_embedding = 0;  // wpe: seq_len x d_model
  int64_t lm_head = 0;             // vocab_size x d_model when untied, else 0 (shares wte)
  // What one token uses: total less the routed experts it is not sent to
  // (moe: top_k of n_experts); equal to total and non_embedding for dense
  // families. Mixture-of-experts laws, FLOPs and shapes use the active counts.
  int64_t active = 0;
  int64_t active_non_embedding = 0;
};

ParamCount count_params(const ModelConfig& config);

enum class FlopConvention { kSixN, kKaplan, kChinchilla };

// "6N", "kaplan", "chinchilla" (case-sensitive, as written in job files).
std::optional<FlopConvention> parse_flop_convention(std::string_view name);
const char* to_string(FlopConvention convention);
inline constexpr const char* kFlopConventionNames = "\"6N\", \"kaplan\", \"chinchilla\"";

// Chinchilla Appendix F forward-pass FLOPs for one sequence of seq_len tokens,
// each term summed over all layers.
struct ChinchillaForwardFlops {
  double embeddings = 0;         // 2 T V d (the paper counts the lookup as a matmul)
  double attention_qkv = 0;      // 2 * 3 T d (kq * H)
  double attention_logits = 0;   // 2 T T (kq * H)
  double attention_softmax = 0;  // 3 H T T
  double attention_values = 0;   // 2 T T (kq * H)   ("softmax @ query reductions")
  double attention_output = 0;   // 2 T (kq * H) d
  double dense = 0;              // 2 T (d F + d F)
  double final_logits = 0;       // 2 T d V

  double total() const;
  // Without the embedding and final-logit terms: the quantity whose ratio to
  // 6ND reproduces Table A4 of the paper (see docs/flops.md).
  double without_embeddings() const;
};

ChinchillaForwardFlops chinchilla_forward_flops(const ModelConfig& config);

// Training (forward + backward) FLOPs per token under `convention`.
double training_flops_per_token(const ModelConfig& config, FlopConvention convention);

}  // namespace sweep
