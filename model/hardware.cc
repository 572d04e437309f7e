#include "model/hardware.h"

#include <algorithm>
#include <cctype>
#include <cmath>

namespace sweep {

const std::vector<Hardware>& hardware_table() {
  // NVIDIA datasheets: A100 Tensor Core GPU (2021): 312 TFLOP/s BF16 dense,
  // 80 GB HBM2e, NVLink 600 GB/s (both directions); DGX A100: 8 GPUs, one
  // 200 Gb/s HDR InfiniBand NIC each. H100 Tensor Core GPU (SXM5): 989 TFLOP/s
  // BF16 dense (1,979 with sparsity), 80 GB HBM3, NVLink 900 GB/s; DGX H100:
  // 8 GPUs, one 400 Gb/s NDR NIC each. H200 (SXM): the H100's 989 TFLOP/s,
  // 141 GB HBM3e, NVLink 900 GB/s; DGX H200: 8 GPUs, 400 Gb/s NICs.
  static const std::vector<Hardware> kTable = {
      {"a100", "NVIDIA A100 SXM4 80GB", 312e12, 80e9, 300e9, 25e9, 8},
      {"h100", "NVIDIA H100 SXM5 80GB", 989e12, 80e9, 450e9, 50e9, 8},
      {"h200", "NVIDIA H200 SXM 141GB", 989e12, 141e9, 450e9, 50e9, 8},
  };
  return kTable;
}

const Hardware* find_hardware(const std::string& name) {
  std::string key = name;
  for (char& c : key) c = char(std::tolower(static_cast<unsigned char>(c)));
  for (const Hardware& h : hardware_table())
    if (h.name == key) return &h;
  return nullptr;
}

std::string hardware_names() {
  std::string names;
  for (const Hardware& h : hardware_table()) names += (names.empty() ? "" : ", ") + h.name;
  return names;
}

StepTime step_time(const StepWork& work, const Hardware& gpu, double mfu, int ranks, int nodes) {
  const double k = std::max(1, ranks);
  const double share = double(work.batch_tokens) / k;  // a rank's tokens per step
  const double micro = work.micro_batch_tokens > 0 ? std::min(share, double(work.micro_batch_tokens))
                                                   : share;
  const double thin = std::sqrt(std::min(1.0, micro / kFullRateTokens));
  StepTime t;
  t.compute = work.flops / (k * gpu.peak_flops * mfu * thin);
  if (ranks > 1) {
    const int per_node = std::max(1, ranks / std::max(1, nodes));
    const double bus = kLinkEfficiency * (nodes <= 1 ? gpu.nvlink_bandwidth
                                                     : std::min(gpu.nvlink_bandwidth,
                                                                per_node * gpu.network_bandwidth));
    t.communication = work.passes * (k - 1) / k * 4.0 * work.params / bus;
  }
  return t;
}

double data_parallel_efficiency(const StepWork& work, const Hardware& gpu, double mfu, int ranks,
                                int nodes) {
  const double ideal = work.flops / (std::max(1, ranks) * gpu.peak_flops * mfu);
  return ideal / step_time(work, gpu, mfu, ranks, nodes).total();
}

}  // namespace sweep
