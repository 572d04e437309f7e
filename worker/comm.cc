#include "worker/comm.h"

#include <algorithm>
#include <cstdlib>
#include <map>

#include "common/check.h"
#include "common/error.h"
#include "common/log.h"
#include "spec/slots.h"

#ifdef SWEEP_WITH_CUDA
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime.h>
#include <nccl.h>

#endif

namespace sweep {

const SlotLayout* GroupLayout::slot(int group) const {
  for (const SlotLayout& s : mine)
    if (s.slot == group) return &s;
  return nullptr;
}

int ranks_per_node_override() {
  const char* text = std::getenv("SWEEP_RANKS_PER_NODE");
  if (!text || !*text) return 0;
  char* end = nullptr;
  const long n = std::strtol(text, &end, 10);
  if (*end != '\0' || n < 1 || n > 1 << 20)
    throw UserError(std::string("SWEEP_RANKS_PER_NODE=") + text +
                    ": must be a positive integer (workers per node)");
  return int(n);
}

GroupLayout make_group_layout(const LayoutRequest& request) {
  const int fake_node = ranks_per_node_override();
  GroupLayout layout;
  SWEEP_MPI(MPI_Comm_rank(MPI_COMM_WORLD, &layout.world_rank));
  SWEEP_MPI(MPI_Comm_size(MPI_COMM_WORLD, &layout.world_size));

  // Node-local ranks (shared-memory domain), and the node's id = its lowest world rank.
  MPI_Comm node_comm;
  SWEEP_MPI(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, layout.world_rank,
                                MPI_INFO_NULL, &node_comm));
  SWEEP_MPI(MPI_Comm_rank(node_comm, &layout.node_rank));
  SWEEP_MPI(MPI_Comm_size(node_comm, &layout.node_size));
  int node_id = 0;
  SWEEP_MPI(MPI_Allreduce(&layout.world_rank, &node_id, 1, MPI_INT, MPI_MIN, node_comm));
  SWEEP_MPI(MPI_Comm_free(&node_comm));
  std::vector<int> node_of(size_t(layout.world_size));
  SWEEP_MPI(MPI_Allgather(&node_id, 1, MPI_INT, node_of.data(), 1, MPI_INT, MPI_COMM_WORLD));

  // Every rank builds the same nodes of workers (rank 0 is in none), then the same groups.
  std::map<int, std::vector<int>> by_node;
  for (int r = 1; r < layout.world_size; ++r)
    by_node[fake_node > 0 ? (r - 1) / fake_node : node_of[size_t(r)]].push_back(r);
  for (auto& [id, ranks] : by_node) layout.nodes.push_back(std::move(ranks));
  layout.groups = make_groups(layout.nodes, request);
  layout.idle_ranks = idle_ranks(layout.nodes, layout.groups);

  // One split per layer of disjoint groups; a member's rank in its group is
  // its position in the group's ranks (the first leads).
  for (const std::vector<int>& layer : disjoint_layers(layout.groups)) {
    int color = MPI_UNDEFINED, key = 0;
    for (int g : layer) {
      const std::vector<int>& ranks = layout.groups[size_t(g)].ranks;
      const auto at = std::find(ranks.begin(), ranks.end(), layout.world_rank);
      if (at != ranks.end()) {
        color = g;
        key = int(at - ranks.begin());
      }
    }
    MPI_Comm comm = MPI_COMM_NULL;
    SWEEP_MPI(MPI_Comm_split(MPI_COMM_WORLD, color, key, &comm));
    if (color == MPI_UNDEFINED) continue;
    SlotLayout slot;
    slot.world_rank = layout.world_rank;
    slot.world_size = layout.world_size;
    slot.node_rank = layout.node_rank;
    slot.node_size = layout.node_size;
    slot.slot = color;
    slot.slot_comm = comm;
    SWEEP_MPI(MPI_Comm_rank(comm, &slot.slot_rank));
    SWEEP_MPI(MPI_Comm_size(comm, &slot.slot_size));
    layout.mine.push_back(slot);
  }
  std::sort(layout.mine.begin(), layout.mine.end(),
            [](const SlotLayout& a, const SlotLayout& b) { return a.slot < b.slot; });
  return layout;
}

void init_group_nccl(GroupLayout& layout, const std::string& device) {
  for (SlotLayout& slot : layout.mine) init_slot_nccl(slot, device);  // in group order
}

void release_group_communicators(GroupLayout& layout) {
  for (SlotLayout& slot : layout.mine) release_slot_communicators(slot);
  layout.mine.clear();
}

void init_slot_nccl(SlotLayout& layout, const std::string& device) {
#ifdef SWEEP_WITH_CUDA
  if (layout.slot_size <= 1 || device.rfind("cuda", 0) != 0) return;
  ncclUniqueId id;
  if (layout.slot_rank == 0) SWEEP_NCCL(ncclGetUniqueId(&id));
  SWEEP_MPI(MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, layout.slot_comm));
  ncclComm_t comm;
  SWEEP_NCCL(ncclCommInitRank(&comm, layout.slot_size, id, layout.slot_rank));
  layout.nccl_comm = comm;
#else
  (void)layout;
  (void)device;
#endif
}

std::function<void(torch::Tensor&)> slot_all_reduce(const SlotLayout& layout) {
  if (layout.slot_size <= 1) return {};
  const MPI_Comm comm = layout.slot_comm;
  void* nccl = layout.nccl_comm;
  return [comm, nccl](torch::Tensor& t) {
    SWEEP_CHECK(t.is_contiguous() && t.scalar_type() == torch::kFloat32,
                "all-reduce takes contiguous fp32");
#ifdef SWEEP_WITH_CUDA
    if (t.is_cuda()) {
      SWEEP_CHECK(nccl != nullptr, "CUDA tensor in a slot without an NCCL communicator");
      const cudaStream_t stream = c10::cuda::getCurrentCUDAStream(t.device().index()).stream();
      SWEEP_NCCL(ncclAllReduce(t.data_ptr(), t.data_ptr(), size_t(t.numel()), ncclFloat32, ncclSum,
                               static_cast<ncclComm_t>(nccl), stream));
      return;
    }
#endif
    (void)nccl;
    SWEEP_CHECK(!t.is_cuda(), "CUDA tensor in a CPU-only build");
    SWEEP_MPI(MPI_Allreduce(MPI_IN_PLACE, t.data_ptr(), int(t.numel()), MPI_FLOAT, MPI_SUM, comm));
  };
}

void release_slot_communicators(SlotLayout& layout) {
#ifdef SWEEP_WITH_CUDA
  if (layout.nccl_comm) ncclCommDestroy(static_cast<ncclComm_t>(layout.nccl_comm));
#endif
  layout.nccl_comm = nullptr;
  if (layout.slot_comm != MPI_COMM_NULL) MPI_Comm_free(&layout.slot_comm);
}

}  // namespace sweep
