#pragma once
// ModelConfig: the shape of one language model of one family. Plain data; the
// counters in model/counting.h, the shape rules in model/shapes.h and the
// LibTorch modules (model/language_model.h) read it.
//
// Families (docs/flops.md counts each):
//  * gpt2   GPT-2 as nanoGPT builds it: learned positions, LayerNorm, GELU MLP
//           (d_ff), biases, lm_head tied to wte by default.
//  * llama  Llama-style ("Transformer++"): rotary positions, RMSNorm, SwiGLU MLP
//           (three d_model x d_ff matrices), no biases, grouped-query attention
//           (n_kv_head key/value heads), untied lm_head by default.
//  * lstm   A stacked LSTM language model (Kaplan et al. 2020's comparison):
//           token embedding, n_layer LSTM layers of d_model units, a final
//           LayerNorm and the head. n_head, d_ff and the attention keys are unused.
//  * moe    The llama block with a routed mixture of experts in place of its
//           MLP: n_experts SwiGLU experts of width d_ff, top_k of them per
//           token, n_shared_experts always-on ones, a load-balancing
//           auxiliary loss; dropless or with a capacity factor.

#include <cstdint>
#include <optional>
#include <string_view>

namespace sweep {

enum class Family { kGpt2, kLlama, kLstm, kMoe };

// "gpt2", "llama", "lstm", "moe" (as written in job files and on the command line).
std::optional<Family> parse_family(std::string_view name);
const char* to_string(Family family);
inline constexpr const char* kFamilyNames = "\"gpt2\", \"llama\", \"lstm\", \"moe\"";

struct ModelConfig {
  Family family = Family::kGpt2;
  int64_t n_layer = 12;        // transformer blocks, or LSTM layers
  int64_t n_head = 12;         // attention heads; head_dim = d_model / n_head
  int64_t n_kv_head = 0;       // key/value heads (llama, moe); 0 = n_head
  int64_t d_model = 768;       // residual stream width (n_embd in nanoGPT); LSTM units
  int64_t d_ff = 3072;         // MLP hidden width (4 * d_model in GPT-2); per expert for moe
  int64_t vocab_size = 50304;  // tokens; 256 for the byte tokenizer
  int64_t seq_len = 1024;      // context length (gpt2: number of learned positions)
  bool tie_embeddings = true;  // lm_head shares wte's weight (GPT-2, nanoGPT)
  double rope_theta = 10000;   // rotary base (llama, moe)

  // Mixture of experts (moe only).
  int64_t n_experts = 0;          // routed experts
  int64_t top_k = 0;              // routed experts per token
  int64_t n_shared_experts = 0;   // experts every token uses, each of width d_ff
  double capacity_factor = 0;     // 0 = dropless; else each expert takes at most
                                  // ceil(factor * tokens * top_k / n_experts) tokens
  double aux_loss_coef = 0.01;    // load-balancing loss weight (Switch Transformer)

  int64_t head_dim() const { return d_model / n_head; }
  int64_t kv_heads() const { return n_kv_head > 0 ? n_kv_head : n_head; }
  bool attention() const { return family != Family::kLstm; }
  // d_model / n_layer, the width-to-depth ratio kept constant across sizes.
  double aspect_ratio() const { return double(d_model) / double(n_layer); }
};

}  // namespace sweep
