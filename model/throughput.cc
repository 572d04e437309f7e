#include "model/throughput.h"

#include <torch/torch.h>

#include <chrono>

namespace sweep {

MatmulRate measure_cpu_matmul_rate(int threads, double seconds, int size) {
  torch::NoGradGuard no_grad;
  if (threads > 0) torch::set_num_threads(threads);
  torch::manual_seed(0);
  const auto a = torch::randn({size, size});
  const auto b = torch::randn({size, size});
  auto c = torch::empty({size, size});
  for (int i = 0; i < 3; ++i) torch::mm_out(c, a, b);  // warm caches and thread pool
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  int64_t products = 0;
  double elapsed = 0;
  do {
    for (int i = 0; i < 4; ++i) torch::mm_out(c, a, b);
    products += 4;
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  } while (elapsed < seconds);
  MatmulRate rate;
  rate.size = size;
  rate.threads = torch::get_num_threads();
  rate.flops_per_second = 2.0 * double(size) * size * size * double(products) / elapsed;
  return rate;
}

}  // namespace sweep
