#include "model/memory.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <string>

#include "model/counting.h"

namespace sweep {

std::optional<Sharding> parse_sharding(std::string_view name) {
  if (name == "none") return Sharding::kNone;
  if (name == "optimizer") return Sharding::kOptimizer;
  if (name == "gradients") return Sharding::kGradients;
  if (name == "parameters") return Sharding::kParameters;
  return std::nullopt;
}

const char* to_string(Sharding sharding) {
  switch (sharding) {
    case Sharding::kNone:
      return "none";
    case Sharding::kOptimizer:
      return "optimizer";
    case Sharding::kGradients:
      return "gradients";
    case Sharding::kParameters:
      return "parameters";
  }
  return "?";
}

namespace {

// The unit that is not a block: embeddings, the final norm and an untied head.
int64_t outer_params(const ModelConfig& m) {
  return count_params(m).total - m.n_layer * params_per_block(m);
}

// Values per token that one block saves for backward (see the header), by
// the dtype they have under autocast: `fp32` always float (the residual
// stream), `low` bf16 on CUDA and float on CPU.
struct SavedValues {
  double fp32 = 0, low = 0;
  double bytes(bool cuda) const { return 4 * fp32 + (cuda ? 2 : 4) * low; }
};

SavedValues block_saved_values(const ModelConfig& m, bool cuda) {
  const double d = double(m.d_model), f = double(m.d_ff);
  SavedValues v;
  switch (m.family) {
    case Family::kGpt2:
      // The block input and the second norm's input (fp32); the first norm's
      // output, q/k/v (3d), the attention output and c_proj's input, the
      // second norm's output; c_fc's output and GELU's (2 d_ff).
      v.fp32 = 2 * d;
      v.low = 7 * d + 2 * f;
      break;
    case Family::kLlama:
    case Family::kMoe: {
      const double kv = double(m.kv_heads() * m.head_dim());
      // As gpt2, with the fused projection's output d + 2 kv (the value
      // heads are views into it), the rotated query (d) and key (kv). On
      // the CPU model/fused_ops.cc writes the query, key and value heads
      // anew and only they are saved, at n_head heads each (grouped keys
      // and values are repeated for the attention kernel, model/llama.cc;
      // without grouping kv = d): 3 d.
      v.fp32 = 2 * d;
      v.low = cuda ? 4 * d + (d + 2 * kv) + d + kv : 4 * d + 3 * d;
      if (m.family == Family::kLlama) {
        v.low += 4 * f;  // SwiGLU: gate, silu(gate), up and their product
      } else {
        // Each of the top_k routed copies: its gathered input, the expert's
        // 4 d_ff SwiGLU values and output (d); the shared experts' 4 d_ff
        // each; the router's logits and probabilities (fp32).
        const double copies = double(std::min(m.top_k, m.n_experts));
        v.low += copies * (2 * d + 4 * f) + double(m.n_shared_experts) * 4 * f;
        v.fp32 += 2 * double(m.n_experts);
      }
      break;
    }
    case Family::kLstm:
      // at::lstm over the sequence (ATen's cell on CPU): the input
      // projection of the whole sequence (4d), each step's hidden-to-hidden
      // gates (4d) and their sigmoid/tanh outputs (4d), the layer input, the
      // previous hidden and cell states and the new cell's tanh (4d); the
      // block input (fp32). tests/test_families.cc measures it.
      v.fp32 = d;
      v.low = 16 * d;
      break;
  }
  return v;
}

}  // namespace

int64_t largest_unit_params(const ModelConfig& model) {
  return std::max(params_per_block(model), outer_params(model));
}

MemoryEstimate estimate_memory(const ModelConfig& m, const MemoryOptions& o) {
  const double P = double(count_params(m).total);
  const double k = double(std::max<int64_t>(1, o.ranks));
  const double block = double(params_per_block(m)), outer = double(outer_params(m));
  // Units held in full at once under stages 2 and 3: the outer unit (the tied
  // embedding is used by the first and the last layer, so it stays gathered
  // through forward and backward) and the one block being computed.
  const double units_in_flight = outer + (m.n_layer > 0 ? block : 0.0);
  MemoryEstimate e;
  switch (o.sharding) {
    case Sharding::kNone:
      e.parameters = 4 * P;
      e.gradients = 4 * P;
      e.optimizer = 8 * P;
      break;
    case Sharding::kOptimizer:
      e.parameters = 4 * P;
      e.gradients = 4 * P + 4 * P / k;  // full buffer, and the shard it is reduce-scattered into
      e.optimizer = 8 * P / k;
      break;
    case Sharding::kGradients:
      e.parameters = 4 * P;
      e.gradients = 4 * units_in_flight + 4 * P / k;
      e.optimizer = 8 * P / k;
      break;
    case Sharding::kParameters:
      e.parameters = 4 * P / k + 4 * units_in_flight;
      e.gradients = 4 * units_in_flight + 4 * P / k;
      e.optimizer = 8 * P / k;
      break;
  }

  const double d = double(m.d_model), V = double(m.vocab_size);
  const double L = double(m.n_layer);
  const double tokens = double(std::max<int64_t>(1, o.micro_batch_sequences)) * double(m.seq_len);
  if (o.cuda) {
    // bf16 copies of the weight matrices that the forward cast and backward
    // still needs: every block's (and the tied embedding's) without
    // checkpointing, one block's with it.
    const double block_matrices = double(matrix_params_per_block(m));
    const double matrices = L * block_matrices + V * d;
    e.casts = 2 * (o.activation_checkpointing ? block_matrices + V * d : matrices);
  }
  // Bytes per token saved for backward (see the header): per block as
  // block_saved_values() counts them; after the blocks the final norm, the
  // logits and their log-softmax, and the logits' gradient as backward starts.
  const double per_block = block_saved_values(m, o.cuda).bytes(o.cuda);
  const double block_input = 4 * d;
  const double head = o.cuda ? 6 * d + 14 * V : 8 * d + 12 * V;
  const double blocks =
      o.activation_checkpointing ? L * block_input + (L > 0 ? per_block : 0.0) : L * per_block;
  e.activations = tokens * (blocks + head);
  return e;
}

int64_t micro_batch_sequences(int64_t batch_tokens, int64_t micro_batch_tokens, int64_t seq_len,
                              int64_t ranks) {
  const int64_t share = batch_tokens / seq_len / std::max<int64_t>(1, ranks);
  return std::max<int64_t>(
      1, micro_batch_tokens > 0 ? std::min(share, micro_batch_tokens / seq_len) : share);
}

std::optional<double> parse_bytes(std::string_view text) {
  std::string s(text);
  s.erase(std::remove_if(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c); }),
          s.end());
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(s, &used);
  } catch (...) {
    return std::nullopt;
  }
  std::string unit = s.substr(used);
  std::transform(unit.begin(), unit.end(), unit.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  double scale = 0;
  if (unit == "b" || unit.empty()) scale = 1;
  else if (unit == "kb") scale = 1e3;
  else if (unit == "mb") scale = 1e6;
  else if (unit == "gb") scale = 1e9;
  else if (unit == "tb") scale = 1e12;
  else if (unit == "kib") scale = 1024.0;
  else if (unit == "mib") scale = 1024.0 * 1024;
  else if (unit == "gib") scale = 1024.0 * 1024 * 1024;
  else if (unit == "tib") scale = 1024.0 * 1024 * 1024 * 1024;
  if (scale == 0 || !std::isfinite(value) || value <= 0) return std::nullopt;
  return value * scale;
}

std::string format_bytes(double bytes) {
  static const char* const units[] = {"B", "kB", "MB", "GB", "TB", "PB"};
  int u = 0;
  while (u < 5 && std::fabs(bytes) >= 1000) {
    bytes /= 1000;
    ++u;
  }
  char out[32];
  std::snprintf(out, sizeof(out), bytes >= 100 || u == 0 ? "%.0f %s" : "%.3g %s", bytes, units[u]);
  return out;
}

}  // namespace sweep
