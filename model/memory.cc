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

int64_t block_params(const ModelConfig& m) {
  const int64_t d = m.d_model, f = m.d_ff;
  return (3 * d * d + 3 * d) + (d * d + d)  // attention: c_attn, c_proj
         + (d * f + f) + (f * d + d)        // MLP: c_fc, c_proj
         + 4 * d;                           // ln_1, ln_2
}

// Weight matrices of a block: what autocast casts to bf16.
int64_t block_matrices(const ModelConfig& m) {
  return 4 * m.d_model * m.d_model + 2 * m.d_model * m.d_ff;
}

// The unit that is not a block: embeddings, the final norm and an untied head.
int64_t outer_params(const ModelConfig& m) {
  const ParamCount p = count_params(m);
  return p.total - m.n_layer * block_params(m);
}

}  // namespace

int64_t largest_unit_params(const ModelConfig& model) {
  return std::max(block_params(model), outer_params(model));
}

MemoryEstimate estimate_memory(const ModelConfig& m, const MemoryOptions& o) {
  const double P = double(count_params(m).total);
  const double k = double(std::max<int64_t>(1, o.ranks));
  const double block = double(block_params(m)), outer = double(outer_params(m));
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

  const double d = double(m.d_model), f = double(m.d_ff), V = double(m.vocab_size);
  const double L = double(m.n_layer);
  const double tokens = double(std::max<int64_t>(1, o.micro_batch_sequences)) * double(m.seq_len);
  if (o.cuda) {
    // bf16 copies of the weight matrices that the forward cast and backward
    // still needs: every block's (and the tied embedding's) without
    // checkpointing, one block's with it.
    const double matrices = L * double(block_matrices(m)) + V * d;
    e.casts = 2 * (o.activation_checkpointing ? double(block_matrices(m)) + V * d : matrices);
  }
  // Bytes per token saved for backward (see the header): per block the
  // residual input and the second norm's input in fp32, the other saved
  // tensors in bf16 on CUDA (fp32 on CPU); after the blocks the final norm,
  // the logits and their log-softmax, and the logits' gradient as backward starts.
  const double per_block = o.cuda ? 8 * d + 14 * d + 4 * f : 36 * d + 8 * f;
  const double block_input = 4 * d;
  const double head = o.cuda ? 6 * d + 14 * V : 8 * d + 12 * V;
  const double blocks =
      o.activation_checkpointing ? L * block_input + (L > 0 ? per_block : 0.0) : L * per_block;
  e.activations = tokens * (blocks + head);
  if (!o.cuda) e.temporaries = 4 * P / (o.sharding == Sharding::kNone ? 1.0 : k);
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
