#pragma once
// Parameter and FLOP counting: the one implementation every part of sweepd uses
// (grid planning, training records, fits, `sweepd flops`). docs/flops.md shows
// the formulas and checks them against published numbers.
//
// Units: FLOPs are floating-point operations (a multiply-accumulate is 2), never
// FLOP/s. "Per token" means per training token, forward + backward.
//
// Every family (model/config.h) is counted here, as its module in model/
// builds it (tests/test_families.cc checks both against each other and
// against published counts of Llama 2/3, Mistral, TinyLlama and Mixtral).
//
// Parameter conventions:
//  * total          every trainable parameter (wte, wpe, blocks, ln_f; lm_head when untied).
//  * non_embedding  total minus the token embedding, the position embedding and an
//                   untied lm_head (Kaplan et al. 2020's N).
//  * active, active_non_embedding
//                   the same less the routed experts a token is not sent to
//                   (moe: n_experts - top_k of them per layer; the router and
//                   the shared experts count). Equal to total and
//                   non_embedding for the dense families.
//
// FLOP conventions (training FLOPs per token; docs/flops.md per family):
//  * 6N          6 * active parameters (= total for dense families).
//  * kaplan      6 * N_active_non_embedding + 6 * n_layer * seq_len * d_attn
//                (Kaplan et al. 2020, Table 1: forward 2N + 2 n_layer n_ctx d_attn,
//                backward twice the forward); d_attn = n_head * head_dim, the
//                query width, also under grouped-query attention; no context
//                term for the LSTM.
//  * chinchilla  Hoffmann et al. 2022, Appendix F: embeddings, QKV, QK logits,
//                softmax, attention x V, output projection, feed-forward and final
//                logits, each a matmul at 2 FLOPs per multiply-accumulate, over the
//                full (non-causal) seq_len x seq_len attention; backward = 2 x forward.
//                Per family: GQA's narrower K/V projections, SwiGLU's three
//                matrices, the router and the top_k + shared experts a token
//                runs, and the LSTM's four gates (ChinchillaForwardFlops).

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

// Parameters of one block (h.i): all of them, and those in weight matrices
// (what bf16 autocast casts; model/memory.h). A block is a unit of sharding.
int64_t params_per_block(const ModelConfig& config);
int64_t matrix_params_per_block(const ModelConfig& config);

enum class FlopConvention { kSixN, kKaplan, kChinchilla };

// "6N", "kaplan", "chinchilla" (case-sensitive, as written in job files).
std::optional<FlopConvention> parse_flop_convention(std::string_view name);
const char* to_string(FlopConvention convention);
inline constexpr const char* kFlopConventionNames = "\"6N\", \"kaplan\", \"chinchilla\"";

// Chinchilla Appendix F forward-pass FLOPs for one sequence of seq_len tokens,
// each term summed over all layers. gpt2's terms are the paper's; the other
// families change what a term holds (noted) and add their own.
struct ChinchillaForwardFlops {
  double embeddings = 0;         // 2 T V d (the paper counts the lookup as a matmul)
  double attention_qkv = 0;      // 2 * 3 T d (kq * H); GQA: 2 T d kq (H + 2 H_kv)
  double attention_logits = 0;   // 2 T T (kq * H)
  double attention_softmax = 0;  // 3 H T T
  double attention_values = 0;   // 2 T T (kq * H)   ("softmax @ query reductions")
  double attention_output = 0;   // 2 T (kq * H) d
  double dense = 0;              // 2 T (d F + d F); SwiGLU: 2 T 3 d F; moe: times
                                 // the top_k + n_shared_experts experts a token runs
  double router = 0;             // moe: 2 T d E (the router's logits)
  double recurrent = 0;          // lstm: 2 T 4d (d + d) matmuls + 21 T d elementwise
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
