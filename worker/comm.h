#pragma once
// MPI process layout and gradient all-reduce for data-parallel slots.
//
// Rank 0 coordinates; the other ranks are cut into slots of ranks_per_run
// ranks on one node each (node-aligned, so a slot's all-reduce never crosses
// the network). Communicators are made once at start: an MPI communicator per
// slot and, when the slot trains on GPUs, an NCCL communicator bootstrapped
// from it (unique id from the slot leader, MPI_Bcast, ncclCommInitRank), as
// nccl-tests does. Each rank binds the GPU of its node-local rank.
//
// Every MPI/NCCL/CUDA call goes through a check macro naming host, file, line
// and the library's error string; a failing call is fatal (it takes the MPI job
// down — Open MPI has no fault tolerance — and a rerun resumes).

#include <mpi.h>
#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "common/check.h"

namespace sweep {

struct SlotLayout {
  int world_rank = 0, world_size = 1;
  int node_rank = 0, node_size = 1;  // this rank on its node (all ranks of the node)
  int slot = -1;                     // this rank's slot; -1 for the coordinator and idle ranks
  int slot_rank = 0, slot_size = 0;
  std::vector<int> leaders;     // world rank of each slot's leader, by slot
  std::vector<int> slot_sizes;  // ranks per slot
  int idle_ranks = 0;           // workers left out (a node's ranks not filling a slot)
  MPI_Comm slot_comm = MPI_COMM_NULL;
  void* nccl_comm = nullptr;  // ncclComm_t of the slot (CUDA builds, GPU slots)

  bool coordinator() const { return world_rank == 0; }
  bool leader() const { return slot >= 0 && slot_rank == 0; }
};

// Collective over MPI_COMM_WORLD. Each node's workers (its ranks other than
// world rank 0), in rank order, are cut into slots taking `sizes` in turn,
// round and round, skipping sizes that no longer fit; what is left is idle.
SlotLayout make_slot_layout(const std::vector<int64_t>& sizes);

// Creates the slot's NCCL communicator when its ranks train on `device` "cuda:*"
// (collective over the slot; nothing for CPU slots or CPU-only builds).
void init_slot_nccl(SlotLayout& layout, const std::string& device);

// Sums a contiguous fp32 tensor in place over the slot: ncclAllReduce for CUDA
// tensors, MPI_Allreduce otherwise. Empty for one-rank slots.
std::function<void(torch::Tensor&)> slot_all_reduce(const SlotLayout& layout);

void release_slot_communicators(SlotLayout& layout);

}  // namespace sweep
