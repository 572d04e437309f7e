#pragma once
// GPTConfig: the shape of one GPT-2 style model (nanoGPT's names and layout).
// Plain data; the counters in model/counting.h and the LibTorch module read it.

#include <cstdint>

namespace sweep {

struct GPTConfig {
  int64_t n_layer = 12;        // transformer blocks
  int64_t n_head = 12;         // attention heads; head_dim = d_model / n_head
  int64_t d_model = 768;       // residual stream width (n_embd in nanoGPT)
  int64_t d_ff = 3072;         // MLP hidden width (4 * d_model in GPT-2)
  int64_t vocab_size = 50304;  // tokens; 256 for the byte tokenizer
  int64_t seq_len = 1024;      // context length = number of learned positions (block_size)
  bool tie_embeddings = true;  // lm_head shares wte's weight (GPT-2, nanoGPT)

  int64_t head_dim() const { return d_model / n_head; }
  // d_model / n_layer, the width-to-depth ratio kept constant across sizes.
  double aspect_ratio() const { return double(d_model) / double(n_layer); }
};

}  // namespace sweep
