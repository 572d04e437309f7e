#include "common/runtime.h"

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <thread>

namespace sweep {

void prepare_process_runtime(int argc, char** argv) {
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  if (std::getenv("OMP_NUM_THREADS") != nullptr) return;
  // Ranks on this node, as Open MPI (or Slurm) tells it; 1 without mpirun.
  int local_ranks = 1;
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_SIZE", "SLURM_NTASKS_PER_NODE"}) {
    if (const char* value = std::getenv(name)) {
      local_ranks = std::max(1, std::atoi(value));
      break;
    }
  }
  const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  const std::string threads = std::to_string(std::max(1, cores / local_ranks));
  setenv("OMP_NUM_THREADS", threads.c_str(), 1);
  // Ceres (the fit stage) links the system BLAS, OpenBLAS here. LibTorch keeps
  // its own BLAS, so OpenBLAS does no training work; without this it would
  // still start a thread per core at load.
  setenv("OPENBLAS_NUM_THREADS", "1", 0);
  (void)argc;
  execv("/proc/self/exe", argv);  // only returns on failure: carry on as we are
}

}  // namespace sweep
