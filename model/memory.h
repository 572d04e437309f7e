#pragma once
// The memory model: bytes one rank of a data-parallel slot holds while it
// trains a run, by kind (parameters, gradients, optimizer state, activations),
// under the run's precision, sharding stage and activation checkpointing. The
// one implementation that `sweepd plan`, `sweepd check`, the schedule
// simulator and the worker's "auto" sharding read; docs/cluster.md derives it
// and states how it compares with what the allocators report.
//
// It follows what the training loop allocates (model/train.cc and
// worker/sharding.h), not a generic rule:
//  * every parameter has an fp32 master copy, an fp32 gradient and AdamW's two
//    fp32 moments: 16 bytes per parameter without sharding (4 + 4 + 8);
//  * sharding over k ranks (ZeRO stages, as in DeepSpeed and FSDP), each stage
//    including the ones before it:
//      optimizer   each rank keeps the moments (and the gradient it steps
//                  with) of its 1/k shard: 4 + 4 + 12/k;
//      gradients   gradients are reduce-scattered unit by unit (a unit = the
//                  embeddings, one block, the final norm) as backward produces
//                  them: full parameters, one unit's full gradient, 12/k;
//      parameters  each rank keeps 1/k of the parameters too and gathers a
//                  unit's parameters before its forward and again before its
//                  backward: 16/k plus the gathered units in flight;
//  * on CUDA, bf16 autocast keeps a bf16 copy of every weight matrix the
//    forward used until its backward (2 bytes per parameter of the units alive);
//  * activations: what backward needs per token of one micro-batch
//    (Korthikanti et al. 2022 without dropout and with fused attention, so no
//    seq_len x seq_len term), plus the logits and their softmax; with
//    activation checkpointing each block keeps only its input, and one
//    block's activations are recomputed at a time. Per block and family:
//      gpt2   9 d_model + 2 d_ff values;
//      llama  8 d_model + 3 kv + 4 d_ff (kv = n_kv_head * head_dim: GQA's
//             narrower keys and values; SwiGLU's extra hidden), and 2 d_model
//             more on CPU when grouped keys/values are repeated for the kernel;
//      moe    the llama attention, then per routed copy (top_k of them)
//             2 d_model + 4 d_ff, 4 d_ff per shared expert, 2 n_experts
//             router values (dropless: the most a capacity factor allows);
//      lstm   17 d_model: the input projection, each step's gates before
//             and after their nonlinearity, the layer input, the previous
//             hidden and cell states, the new cell's tanh, the block input;
//  * the optimizer step is ATen's fused AdamW, which makes no temporary
//    (LibTorch before 2.4 has none on CPU; its step there makes one buffer
//    the size of the rank's shard, not counted here).

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "model/config.h"

namespace sweep {

// ZeRO stages, by what is sharded over a slot's ranks (each includes the ones before).
enum class Sharding { kNone, kOptimizer, kGradients, kParameters };

std::optional<Sharding> parse_sharding(std::string_view name);  // "none", "optimizer", ...
const char* to_string(Sharding sharding);
inline constexpr const char* kShardingNames =
    "\"none\", \"optimizer\", \"gradients\", \"parameters\"";

struct MemoryOptions {
  Sharding sharding = Sharding::kNone;
  int64_t ranks = 1;                      // ranks of the slot the state is sharded over
  int64_t micro_batch_sequences = 1;      // sequences per forward/backward on one rank
  bool activation_checkpointing = false;  // per block (train.activation_checkpointing)
  bool cuda = false;                      // bf16 autocast (CUDA) or fp32 (CPU)
};

// Bytes on one rank at its peak (the start of backward), by kind.
struct MemoryEstimate {
  double parameters = 0;   // master weights held (full, or the shard plus gathered units)
  double gradients = 0;    // gradient buffers (full, one unit, shard)
  double optimizer = 0;    // AdamW moments
  double casts = 0;        // bf16 weight copies autocast keeps for backward (CUDA)
  double activations = 0;  // saved for backward, one micro-batch

  double state() const { return parameters + gradients + optimizer + casts; }
  // The peak: the start of backward (the fused AdamW step makes no temporary).
  double total() const { return state() + activations; }
};

MemoryEstimate estimate_memory(const ModelConfig& model, const MemoryOptions& options);

// Sequences per forward/backward on one of `ranks` ranks: its share of the
// batch, or train.micro_batch_tokens' worth when that is smaller (at least 1).
int64_t micro_batch_sequences(int64_t batch_tokens, int64_t micro_batch_tokens, int64_t seq_len,
                              int64_t ranks);

// Parameters of the largest shard unit (a block, or the embeddings with the
// final norm and an untied head): what stages 2 and 3 hold in full at once.
int64_t largest_unit_params(const ModelConfig& model);

// "80GB", "40 GiB", "512MB", "1.5TB" (decimal or binary units) in bytes;
// nullopt if it does not parse.
std::optional<double> parse_bytes(std::string_view text);
// Bytes as "254 GB" / "3.1 MB" (decimal, 3 significant digits).
std::string format_bytes(double bytes);

}  // namespace sweep
