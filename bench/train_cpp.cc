// bench/train_cpp: training throughput of sweepd's C++ worker (model/train)
// for given shapes, and the fp32 matmul rate measured in the same process.
// Prints one JSON document; bench/train runs it beside the Python baseline.
//
//   train_cpp --corpus FILE.u8 --seq-len 128 --batch 16 --threads 2 --seconds 5
//             --shape 1x16 --shape 1x32 ...        (n_layer x d_model, head_dim 8 or 64)

#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/runtime.h"
#include "model/counting.h"
#include "model/data.h"
#include "model/throughput.h"
#include "model/train.h"

using namespace sweep;

int main(int argc, char** argv) {
  prepare_process_runtime(argc, argv);
  std::string corpus, device = "cpu";
  int64_t seq_len = 128, batch = 16, head_dim = 8;
  int threads = 2;
  double seconds = 5;
  std::vector<std::pair<int64_t, int64_t>> shapes;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--corpus")
      corpus = value;
    else if (flag == "--seq-len")
      seq_len = std::stoll(value);
    else if (flag == "--batch")
      batch = std::stoll(value);
    else if (flag == "--threads")
      threads = std::stoi(value);
    else if (flag == "--seconds")
      seconds = std::stod(value);
    else if (flag == "--head-dim")
      head_dim = std::stoll(value);
    else if (flag == "--device")
      device = value;
    else if (flag == "--shape") {
      const auto x = value.find('x');
      shapes.push_back({std::stoll(value.substr(0, x)), std::stoll(value.substr(x + 1))});
    } else {
      std::cerr << "unknown flag " << flag << "\n";
      return 2;
    }
  }
  TokenData data(corpus, 1, seq_len, 0.01);
  nlohmann::json out;
  const MatmulRate rate = measure_cpu_matmul_rate(threads, 1.0, 1024);
  out["matmul_flops_per_second"] = rate.flops_per_second;
  out["threads"] = rate.threads;
  out["runs"] = nlohmann::json::array();
  for (const auto& [n_layer, d_model] : shapes) {
    TrainConfig c;
    c.model.n_layer = n_layer;
    c.model.d_model = d_model;
    c.model.n_head = std::max<int64_t>(1, d_model / head_dim);
    c.model.d_ff = 4 * d_model;
    c.model.vocab_size = 256;
    c.model.seq_len = seq_len;
    c.batch_tokens = batch * seq_len;
    c.lr = 1e-3;
    c.warmup_steps = 0;
    c.eval_interval = 1 << 30;
    c.eval_tokens = seq_len;
    c.log_interval = 1 << 30;
    c.threads = threads;
    c.device = device;
    c.seed = 1;
    c.flops_per_token = training_flops_per_token(c.model, FlopConvention::kChinchilla);
    // Calibrate the number of steps to about `seconds` from a short run.
    c.steps = 10;
    train_run(c, data, {});
    const auto t0 = std::chrono::steady_clock::now();
    c.steps = 20;
    train_run(c, data, {});
    const double per_step =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / 20;
    c.steps = std::max<int64_t>(20, int64_t(seconds / per_step));
    const RunResult result = train_run(c, data, {});
    out["runs"].push_back({{"shape", std::to_string(n_layer) + "x" + std::to_string(d_model)},
                           {"params", count_params(c.model).total},
                           {"flops_per_token", c.flops_per_token},
                           {"steps", c.steps},
                           {"tokens_per_second", result.tokens_per_second}});
  }
  std::cout << out.dump(2) << "\n";
  return 0;
}
