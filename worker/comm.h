#pragma once
// MPI process layout and gradient all-reduce for data-parallel groups.
//
// Rank 0 coordinates; the other ranks (workers) sit on nodes and form the
// groups of spec/slots.h: fixed node-local slots, or nested groups of 1, 2,
// 4, ... ranks and of 2, 4, ... whole nodes (ranks_per_run = "auto"), so a
// rank may be in several groups and trains in one at a time. Nodes are the
// shared-memory domains, or, with SWEEP_RANKS_PER_NODE=n in the environment,
// consecutive blocks of n workers (to try multi-node layouts on one machine).
// Communicators are made once at start: an MPI communicator per group and,
// when the group trains on GPUs, an NCCL communicator bootstrapped from it
// (unique id from the group's leader, MPI_Bcast, ncclCommInitRank), as
// nccl-tests does; every rank makes its groups' in one global order, so the
// blocking inits never wait on each other. Each rank binds the GPU of its
// node-local rank.
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
#include "spec/slots.h"

namespace sweep {

// One group as one of its ranks sees it: what a run's collectives use.
struct SlotLayout {
  int world_rank = 0, world_size = 1;
  int node_rank = 0, node_size = 1;  // this rank on its node (all ranks of the node)
  int slot = -1;                     // the group's index in the layout; -1: none
  int slot_rank = 0, slot_size = 0;
  MPI_Comm slot_comm = MPI_COMM_NULL;
  void* nccl_comm = nullptr;  // ncclComm_t of the group (CUDA builds, GPU groups)

  bool coordinator() const { return world_rank == 0; }
  bool leader() const { return slot >= 0 && slot_rank == 0; }
};

// Every group (the same plain data on every rank) and this rank's share of them.
struct GroupLayout {
  int world_rank = 0, world_size = 1;
  int node_rank = 0, node_size = 1;  // on its shared-memory node (for the GPU it binds)
  NodeRanks nodes;                   // workers per node (SWEEP_RANKS_PER_NODE, or real)
  std::vector<SlotGroup> groups;
  std::vector<SlotLayout> mine;  // this rank's groups, by group index
  int idle_ranks = 0;            // workers in no group

  bool coordinator() const { return world_rank == 0; }
  bool worker() const { return !mine.empty(); }
  const SlotLayout* slot(int group) const;  // nullptr if this rank is not in it
};

// SWEEP_RANKS_PER_NODE as a number of workers per node; 0 when unset. Throws
// UserError when it is not a positive integer.
int ranks_per_node_override();

// Collective over MPI_COMM_WORLD: the groups of `request` over the nodes,
// with one MPI communicator per group on each of its ranks.
GroupLayout make_group_layout(const LayoutRequest& request);

// Creates the NCCL communicators of this rank's groups when it trains on
// `device` "cuda:*" (collective over each group, in group order; nothing for
// CPU ranks or CPU-only builds).
void init_group_nccl(GroupLayout& layout, const std::string& device);

void release_group_communicators(GroupLayout& layout);

// Creates one group's NCCL communicator (collective over the group).
void init_slot_nccl(SlotLayout& layout, const std::string& device);

// Sums a contiguous fp32 tensor in place over the group: ncclAllReduce for CUDA
// tensors, MPI_Allreduce otherwise. Empty for one-rank slots.
std::function<void(torch::Tensor&)> slot_all_reduce(const SlotLayout& layout);

void release_slot_communicators(SlotLayout& layout);

}  // namespace sweep
