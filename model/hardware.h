#pragma once
// GPUs and the data-parallel efficiency model: how long one optimizer step of
// a run takes on a group of k GPUs. The one place these assumptions live; the
// scheduler's "auto" policy, the schedule simulator (bench/schedule) and
// `sweepd plan --gpu` read it, and docs/cluster.md states it.
//
// Step time on k ranks spanning `nodes` nodes (not overlapped: the training
// loop sums the gradients as one flat buffer after the last micro-batch's
// backward, model/train.cc):
//
//   compute        = step FLOPs / (k · peak · MFU · thin(m))
//   communication  = passes · (k−1)/k · 4 · params / bus bandwidth
//
//  * The batch limit: a group keeps the global batch, so k must divide the
//    batch's sequences (at most one sequence per rank and step).
//  * thin(m): the MFU holds while a rank's forward pass has at least
//    kFullRateTokens tokens (the rows of every GEMM); a rank's micro-batch is
//    min(train.micro_batch_tokens, batch_tokens / k), and below that the rate
//    falls as sqrt(m / kFullRateTokens).
//  * Gradients travel in fp32 (4 bytes per parameter). A ring all-reduce
//    (NCCL's, or a reduce-scatter followed by an all-gather for the optimizer
//    and gradient stages of sharding) moves 2(k−1)/k of them per rank and
//    step; sharding the parameters adds an all-gather: 3(k−1)/k.
//  * Bus bandwidth: inside a node, NVLink's per-GPU bandwidth in one
//    direction; across nodes NCCL runs one ring per NIC, so each ring's hop
//    between nodes has one GPU's NIC and the rings together have the node's:
//    min(NVLink, GPUs per node in the group · NIC bandwidth). Both times
//    kLinkEfficiency (the share of the line rate NCCL's busbw reaches).
//  * Not modelled: latency (2(k−1) ring steps of a few µs), the optimizer
//    step (memory-bound, ~16 bytes per parameter), pipeline/tensor
//    parallelism (sweepd has neither).

#include <cstdint>
#include <string>
#include <vector>

namespace sweep {

struct Hardware {
  std::string name;           // "h100"
  std::string label;          // "NVIDIA H100 SXM5 80GB"
  double peak_flops;          // dense bf16 FLOP/s per GPU (no sparsity)
  double memory_bytes;        // HBM per GPU
  double nvlink_bandwidth;    // bytes/s per GPU, one direction
  double network_bandwidth;   // bytes/s per GPU (its NIC), one direction
  int gpus_per_node;          // in the vendor's 8-GPU node (DGX/HGX)
};

// a100, h100, h200 (the vendor's datasheet numbers, cited in hardware.cc).
const std::vector<Hardware>& hardware_table();
const Hardware* find_hardware(const std::string& name);  // case-insensitive; nullptr if unknown
std::string hardware_names();                            // "a100, h100, h200"

inline constexpr double kFullRateTokens = 2048;  // tokens per forward for the full MFU
inline constexpr double kLinkEfficiency = 0.8;   // achieved / line-rate bandwidth

// What decides a run's step time besides the group.
struct StepWork {
  double flops = 0;                // FLOPs of one optimizer step (all ranks)
  double params = 0;               // gradient elements (total parameters)
  int64_t batch_tokens = 0;        // tokens per step
  int64_t micro_batch_tokens = 0;  // tokens per forward on one rank; 0 = its whole share
  int passes = 2;                  // gradient volumes per step: 2 (all-reduce), 3 (sharded parameters)
};

struct StepTime {
  double compute = 0;        // seconds
  double communication = 0;  // seconds
  double total() const { return compute + communication; }
};

StepTime step_time(const StepWork& work, const Hardware& gpu, double mfu, int ranks, int nodes);

// Modelled over ideal: (step FLOPs / (k · peak · MFU)) / step time, in (0, 1].
double data_parallel_efficiency(const StepWork& work, const Hardware& gpu, double mfu, int ranks,
                                int nodes);

}  // namespace sweep
