#pragma once
// The collectives a data-parallel slot's training loop needs, as functions the
// worker supplies (worker/collectives.h: NCCL for CUDA tensors, MPI
// otherwise), so that model/ trains sharded or not without knowing MPI.
// Default-constructed: one rank, nothing to communicate.
//
// Every rank of the slot calls the same collectives in the same order with
// the same sizes; buffers are contiguous fp32.

#include <torch/torch.h>

#include <functional>

namespace sweep {

struct Collectives {
  int rank = 0, size = 1;
  // Sums `buffer` over the slot, in place.
  std::function<void(torch::Tensor& buffer)> all_reduce_sum;
  // `input` has size * n elements; `output` (n) becomes the sum over the slot
  // of chunk `rank` of every rank's input.
  std::function<void(const torch::Tensor& input, torch::Tensor& output)> reduce_scatter_sum;
  // `buffer` has size * n elements; chunk r becomes rank r's chunk r (each
  // rank's own chunk is its contribution), in place.
  std::function<void(torch::Tensor& buffer)> all_gather;

  bool single() const { return size <= 1; }
};

}  // namespace sweep
