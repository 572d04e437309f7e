#pragma once
// Runs f(0), ..., f(count − 1) on `threads` threads (0 = one per hardware
// thread), each taking the next index as it finishes: the starts of approach 3
// and the bootstrap replicates are independent and vary in cost. f must only
// write to its own index's results.

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

namespace sweep::fit {

template <typename F>
void parallel_for(size_t count, int threads, F&& f) {
  if (threads <= 0) threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  threads = static_cast<int>(std::min<size_t>(static_cast<size_t>(threads), count));
  if (threads <= 1) {
    for (size_t i = 0; i < count; ++i) f(i);
    return;
  }
  std::atomic<size_t> next{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      for (size_t i; (i = next.fetch_add(1)) < count;) f(i);
    });
  for (std::thread& t : pool) t.join();
}

}  // namespace sweep::fit
