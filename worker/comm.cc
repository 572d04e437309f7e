#include "worker/comm.h"

#include <algorithm>

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

SlotLayout make_slot_layout(const std::vector<int64_t>& wanted) {
  SlotLayout layout;
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
  // This rank's position among the node's workers (everyone but world rank 0).
  const int is_worker = layout.world_rank == 0 ? 0 : 1;
  int worker_index = 0, workers_on_node = 0;
  SWEEP_MPI(MPI_Exscan(&is_worker, &worker_index, 1, MPI_INT, MPI_SUM, node_comm));
  if (layout.node_rank == 0) worker_index = 0;  // Exscan leaves rank 0's result undefined
  SWEEP_MPI(MPI_Allreduce(&is_worker, &workers_on_node, 1, MPI_INT, MPI_SUM, node_comm));
  SWEEP_MPI(MPI_Comm_free(&node_comm));

  // The node's cut, the same on each of its ranks.
  const std::vector<int> cut = cut_into_slots(workers_on_node, wanted);
  int group = -1;
  for (int g = 0, start = 0; g < int(cut.size()); start += cut[size_t(g)], ++g) {
    if (is_worker && worker_index >= start && worker_index < start + cut[size_t(g)]) group = g;
  }
  const bool member = group >= 0;
  const int color = member ? node_id * layout.world_size + group : MPI_UNDEFINED;
  SWEEP_MPI(MPI_Comm_split(MPI_COMM_WORLD, color, layout.world_rank, &layout.slot_comm));
  if (member) {
    SWEEP_MPI(MPI_Comm_rank(layout.slot_comm, &layout.slot_rank));
    SWEEP_MPI(MPI_Comm_size(layout.slot_comm, &layout.slot_size));
  }

  // Every rank learns the leaders (and so the slot numbers), in world-rank order.
  const int mine = member && layout.slot_rank == 0 ? layout.world_rank : -1;
  const int my_size = member ? layout.slot_size : 0;
  std::vector<int> leaders(size_t(layout.world_size)), sizes(size_t(layout.world_size));
  SWEEP_MPI(MPI_Allgather(&mine, 1, MPI_INT, leaders.data(), 1, MPI_INT, MPI_COMM_WORLD));
  SWEEP_MPI(MPI_Allgather(&my_size, 1, MPI_INT, sizes.data(), 1, MPI_INT, MPI_COMM_WORLD));
  for (int r = 0; r < layout.world_size; ++r) {
    if (leaders[size_t(r)] >= 0) {
      layout.leaders.push_back(r);
      layout.slot_sizes.push_back(sizes[size_t(r)]);
    }
  }
  int my_leader = member ? layout.world_rank : -1;
  if (member) SWEEP_MPI(MPI_Bcast(&my_leader, 1, MPI_INT, 0, layout.slot_comm));
  if (member) {
    layout.slot = int(std::find(layout.leaders.begin(), layout.leaders.end(), my_leader) -
                      layout.leaders.begin());
  }
  int in_slots = 0;
  for (int s : layout.slot_sizes) in_slots += s;
  layout.idle_ranks = layout.world_size - 1 - in_slots;
  return layout;
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
