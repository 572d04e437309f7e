#pragma once
// Where runs may train: groups of worker ranks (a group = the ranks that train
// one run data-parallel), as plain arithmetic shared by the MPI layout
// (worker/comm.cc), the scheduler and the schedule simulator
// (orchestrator/schedule_sim.h). Ranks are opaque ids (world ranks under MPI).
//
// Two layouts:
//  * fixed slots (resources.ranks_per_run = N or a list): each node's workers
//    are cut, in rank order, into disjoint slots that never span nodes;
//  * nested groups (resources.ranks_per_run = "auto"): buddy-style aligned
//    groups of 1, 2, 4, ... ranks inside each node, then of 2, 4, 8, ... whole
//    nodes (the first `node_width` workers of each), up to what the batch
//    allows. A rank is in one group of each size and trains one run at a time;
//    a group is free when all its ranks are.

#include <cstdint>
#include <vector>

namespace sweep {

// Each node's worker ranks, in rank order; nodes in order.
using NodeRanks = std::vector<std::vector<int>>;

struct SlotGroup {
  std::vector<int> ranks;  // in order; ranks[0] leads (talks to the coordinator)
  int nodes = 1;           // nodes it spans
  int size() const { return int(ranks.size()); }
};

// `sizes` taken in turn, round and round, skipping sizes that no longer fit.
// Returns the slots' sizes in rank order; the ranks they leave are idle.
std::vector<int> cut_into_slots(int workers, const std::vector<int64_t>& sizes);

// Fixed slots: every node cut by cut_into_slots().
std::vector<SlotGroup> fixed_slots(const NodeRanks& nodes, const std::vector<int64_t>& sizes);

// True when a group of `ranks` keeps the global batch exact: it divides the
// batch's sequences, and the job's micro-batch (sequences; 0 = the whole
// share) divides each rank's share when smaller than it.
bool divides_batch(int64_t ranks, int64_t batch_sequences, int64_t micro_sequences);

// Nested groups (see above), every one dividing the batch (divides_batch) and
// spanning at most `max_nodes` nodes (0: no limit). A node's width is the
// largest power of two <= the fewest workers any node has; workers past it on
// a node train only in groups inside their node.
std::vector<SlotGroup> nested_groups(const NodeRanks& nodes, int64_t batch_sequences,
                                     int64_t micro_sequences, int64_t max_nodes);

// What a layout is made from (resources.ranks_per_run and the batch).
struct LayoutRequest {
  std::vector<int64_t> slot_sizes = {1};  // fixed slots: sizes taken in turn
  bool nested = false;                    // ranks_per_run = "auto"
  int64_t batch_sequences = 1;            // train.batch_tokens / data.seq_len
  int64_t micro_sequences = 0;            // train.micro_batch_tokens / data.seq_len
  int64_t max_nodes = 0;                  // resources.max_nodes_per_run (0: no limit)
};
std::vector<SlotGroup> make_groups(const NodeRanks& nodes, const LayoutRequest& request);

// Ranks in no group.
int idle_ranks(const NodeRanks& nodes, const std::vector<SlotGroup>& groups);

// The groups in layers of disjoint groups (one MPI_Comm_split per layer):
// layer[i] lists group indices.
std::vector<std::vector<int>> disjoint_layers(const std::vector<SlotGroup>& groups);

}  // namespace sweep
