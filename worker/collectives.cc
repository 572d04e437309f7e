#include "worker/collectives.h"

#include <climits>

#include "common/check.h"

#ifdef SWEEP_WITH_CUDA
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime.h>
#include <nccl.h>
#endif

namespace sweep {
namespace {

#ifdef SWEEP_WITH_CUDA
cudaStream_t stream_of(const torch::Tensor& t) {
  return c10::cuda::getCurrentCUDAStream(t.device().index()).stream();
}
#endif

void check_buffer(const torch::Tensor& t, int64_t n) {
  SWEEP_CHECK(t.is_contiguous() && t.scalar_type() == torch::kFloat32,
              "collectives take contiguous fp32");
  SWEEP_CHECK(n <= INT_MAX, "a collective's chunk exceeds MPI's int count");
}

}  // namespace

Collectives slot_collectives(const SlotLayout& layout) {
  Collectives c;
  if (layout.slot < 0 || layout.slot_size <= 1) return c;
  c.rank = layout.slot_rank;
  c.size = layout.slot_size;
  c.all_reduce_sum = slot_all_reduce(layout);
  const MPI_Comm comm = layout.slot_comm;
  void* nccl = layout.nccl_comm;
  const int size = layout.slot_size, rank = layout.slot_rank;
  c.reduce_scatter_sum = [comm, nccl, size](const torch::Tensor& input, torch::Tensor& output) {
    const int64_t n = output.numel();
    SWEEP_CHECK(input.numel() == n * size, "reduce-scatter input must be ranks x output");
    check_buffer(input, n);
    check_buffer(output, n);
#ifdef SWEEP_WITH_CUDA
    if (input.is_cuda()) {
      SWEEP_CHECK(nccl != nullptr, "CUDA tensor in a slot without an NCCL communicator");
      SWEEP_NCCL(ncclReduceScatter(input.data_ptr(), output.data_ptr(), size_t(n), ncclFloat32,
                                   ncclSum, static_cast<ncclComm_t>(nccl), stream_of(input)));
      return;
    }
#endif
    (void)nccl;
    SWEEP_CHECK(!input.is_cuda(), "CUDA tensor in a CPU-only build");
    SWEEP_MPI(MPI_Reduce_scatter_block(input.data_ptr(), output.data_ptr(), int(n), MPI_FLOAT,
                                       MPI_SUM, comm));
  };
  c.all_gather = [comm, nccl, size, rank](torch::Tensor& buffer) {
    SWEEP_CHECK(buffer.numel() % size == 0, "all-gather buffer must split over the ranks");
    const int64_t n = buffer.numel() / size;
    check_buffer(buffer, n);
#ifdef SWEEP_WITH_CUDA
    if (buffer.is_cuda()) {
      SWEEP_CHECK(nccl != nullptr, "CUDA tensor in a slot without an NCCL communicator");
      float* base = buffer.data_ptr<float>();
      SWEEP_NCCL(ncclAllGather(base + int64_t(rank) * n, base, size_t(n), ncclFloat32,
                               static_cast<ncclComm_t>(nccl), stream_of(buffer)));
      return;
    }
#endif
    (void)nccl;
    (void)rank;
    SWEEP_CHECK(!buffer.is_cuda(), "CUDA tensor in a CPU-only build");
    SWEEP_MPI(MPI_Allgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buffer.data_ptr(), int(n),
                            MPI_FLOAT, comm));
  };
  return c;
}

}  // namespace sweep
