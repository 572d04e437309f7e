#include "model/allocation_probe.h"

#include <c10/core/Allocator.h>
#include <c10/util/ThreadLocalDebugInfo.h>

#include <algorithm>
#include <atomic>

namespace sweep {

struct AllocationProbe::Counter : c10::MemoryReportingInfoBase {
  std::atomic<int64_t> cpu{0}, cpu_peak{0}, cuda{0}, cuda_peak{0};

  static void add(std::atomic<int64_t>& now, std::atomic<int64_t>& peak, int64_t bytes) {
    const int64_t held = now.fetch_add(bytes) + bytes;
    int64_t seen = peak.load();
    while (held > seen && !peak.compare_exchange_weak(seen, held)) {
    }
  }

  void reportMemoryUsage(void*, int64_t alloc_size, size_t, size_t, c10::Device device) override {
    if (device.is_cuda()) {
      add(cuda, cuda_peak, alloc_size);
    } else if (device.is_cpu()) {
      add(cpu, cpu_peak, alloc_size);
    }
  }
  bool memoryProfilingEnabled() const override { return true; }
};

struct AllocationProbe::Installed {
  explicit Installed(std::shared_ptr<c10::DebugInfoBase> info)
      : guard(c10::DebugInfoKind::PROFILER_STATE, std::move(info)) {}
  c10::DebugInfoGuard guard;
};

AllocationProbe::AllocationProbe()
    : counter_(std::make_shared<Counter>()), installed_(std::make_unique<Installed>(counter_)) {}

AllocationProbe::~AllocationProbe() = default;

int64_t AllocationProbe::current_cpu() const { return counter_->cpu.load(); }
int64_t AllocationProbe::peak_cpu() const { return counter_->cpu_peak.load(); }
int64_t AllocationProbe::current_cuda() const { return counter_->cuda.load(); }
int64_t AllocationProbe::peak_cuda() const { return counter_->cuda_peak.load(); }

void AllocationProbe::reset_peak() {
  counter_->cpu_peak.store(counter_->cpu.load());
  counter_->cuda_peak.store(counter_->cuda.load());
}

}  // namespace sweep
