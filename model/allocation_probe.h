#pragma once
// Bytes LibTorch's allocators hand out, as its memory profiler sees them: a
// probe registers itself as the thread's memory reporter (the hook behind
// torch.profiler's profile_memory), and the CPU allocator and CUDA's caching
// allocator report every allocation and free to it. Per device kind, the
// bytes held now and the peak since the probe began (or reset_peak()).
// Work LibTorch hands to other threads (autograd's device threads) carries
// the reporter with it; what other code allocates outside LibTorch is not seen.
//
// It measures what the memory model (model/memory.h) predicts: tests compare
// the two on CPU, bench/gpu on CUDA.

#include <cstdint>
#include <memory>

namespace sweep {

class AllocationProbe {
 public:
  AllocationProbe();   // starts counting on this thread (and its LibTorch work)
  ~AllocationProbe();  // stops
  AllocationProbe(const AllocationProbe&) = delete;
  AllocationProbe& operator=(const AllocationProbe&) = delete;

  int64_t current_cpu() const;
  int64_t peak_cpu() const;
  int64_t current_cuda() const;
  int64_t peak_cuda() const;
  void reset_peak();  // peaks := what is held now

 private:
  struct Counter;
  struct Installed;
  std::shared_ptr<Counter> counter_;
  std::unique_ptr<Installed> installed_;
};

}  // namespace sweep
