#include "model/throughput.h"

#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "common/check.h"
#include "common/error.h"
#include "model/data.h"
#include "model/train.h"

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

namespace sweep {

double measure_step_seconds(const ModelConfig& model, int64_t batch_tokens,
                            int64_t micro_batch_tokens, int threads, const std::string& device,
                            int steps) {
  // A throwaway token file of random ids (every rank and run uses its own).
  char path[] = "/tmp/sweepd-probe-XXXXXX";
  const int fd = ::mkstemp(path);
  SWEEP_CHECK(fd >= 0, "cannot create a temporary file for the throughput probe");
  const int bytes = model.vocab_size <= 256 ? 1 : 2;
  const int64_t tokens = std::max<int64_t>(1 << 16, 8 * (model.seq_len + 1) * 4);
  std::vector<uint16_t> ids(static_cast<size_t>(tokens));
  uint64_t x = 88172645463325252ULL;
  for (auto& id : ids) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    id = uint16_t(x % uint64_t(model.vocab_size));
  }
  std::vector<uint8_t> narrow(ids.begin(), ids.end());
  const void* data = bytes == 1 ? static_cast<const void*>(narrow.data()) : ids.data();
  SWEEP_CHECK(::write(fd, data, size_t(tokens) * size_t(bytes)) == ssize_t(tokens * bytes),
              "probe write");
  ::close(fd);
  double seconds = NAN;
  try {
    TokenData probe_data(path, bytes, model.seq_len, 0.25);
    TrainConfig c;
    c.model = model;
    c.batch_tokens = batch_tokens;
    c.micro_batch_tokens = micro_batch_tokens;
    c.eval_interval = 1 << 30;
    c.eval_tokens = model.seq_len;
    c.log_interval = 1 << 30;
    c.threads = threads;
    c.device = device;
    c.steps = 6;  // warm-up: allocations, thread pools, kernels
    train_run(c, probe_data, {});
    c.steps = steps;
    const RunResult result = train_run(c, probe_data, {});
    seconds = double(batch_tokens) / result.tokens_per_second;
  } catch (...) {
    std::remove(path);
    throw;
  }
  std::remove(path);
  return seconds;
}

}  // namespace sweep
