// bench/train_cpp: training throughput of sweepd's C++ worker (model/train)
// for given shapes of one model family, and the fp32 matmul rate measured in
// the same process. Prints one JSON document; bench/train runs it beside the
// Python baseline (bench/train_python.py), which builds the same models.
//
//   train_cpp --corpus FILE.u8 --seq-len 128 --batch 16 --threads 2 --seconds 5
//             --family gpt2|llama|lstm|moe --head-dim 8
//             --shape 2x16 --shape 2x32 ...       (n_layer x d_model)
//             [--n-kv-head 0] [--experts 8] [--top-k 2] [--shared-experts 0]
//   train_cpp --describe ...                      (the shapes and counts, no training)
//   train_cpp ... --trace DIR   also writes DIR/FAMILY-SHAPE-cpp.json, the
//             timed run's operators (LibTorch's profiler, Chrome trace
//             format; its overhead slows the run; bench/trace_ops reads it)
//
// Each shape's ModelConfig is the one model/shapes builds for that depth and
// width under a job's default [model] keys for the family (docs/job-format.md):
// gpt2 d_ff = 4 d, tied head; llama and moe d_ff = 8/3 d rounded up to a
// multiple of 8 (per expert for moe), untied head, n_kv_head the largest
// divisor of n_head not above --n-kv-head (0 = n_head); lstm tied head and
// no MLP. shape_for_params cross-checks every shape it can build.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <torch/csrc/autograd/profiler_kineto.h>
#include <vector>

#include "common/runtime.h"
#include "model/counting.h"
#include "model/data.h"
#include "model/language_model.h"
#include "model/shapes.h"
#include "model/throughput.h"
#include "model/train.h"

using namespace sweep;

namespace {

struct BenchOptions {
  Family family = Family::kGpt2;
  int64_t seq_len = 128, batch = 16, head_dim = 8;
  int64_t n_kv_head = 0;  // llama, moe; 0 = n_head (the job default)
  int64_t n_experts = 8, top_k = 2, n_shared_experts = 0;  // moe (the job defaults)
};

// The shape rule a job with only `family` (and these keys) in [model] would
// use, fixed to n_layer layers.
ShapeRule bench_rule(const BenchOptions& o, int64_t n_layer) {
  const bool llama_like = o.family == Family::kLlama || o.family == Family::kMoe;
  ShapeRule r;
  r.family = o.family;
  r.head_dim = o.head_dim;
  r.ffn_mult = llama_like ? 8.0 / 3.0 : 4.0;
  r.ffn_multiple_of = llama_like ? 8 : 1;
  r.vocab_size = 256;
  r.seq_len = o.seq_len;
  r.tie_embeddings = !llama_like;
  r.layers = n_layer;
  r.n_kv_head = o.n_kv_head;
  r.n_experts = o.n_experts;
  r.top_k = o.top_k;
  r.n_shared_experts = o.n_shared_experts;
  return r;
}

// The shape's description: what bench/train compares with the Python model's.
nlohmann::json describe(const ModelConfig& c) {
  const std::shared_ptr<LanguageModel> model = make_model(c);
  int64_t built = 0;
  for (const auto& p : model->parameters()) built += p.numel();
  const ParamCount n = count_params(c);
  if (built != n.total) {
    std::cerr << "bench_train_cpp: the built " << to_string(c.family) << " model has " << built
              << " parameters, count_params says " << n.total << "\n";
    std::exit(1);
  }
  nlohmann::json d = {{"shape", std::to_string(c.n_layer) + "x" + std::to_string(c.d_model)},
                      {"family", to_string(c.family)},
                      {"params", n.total},
                      {"active_params", n.active},
                      {"d_ff", c.d_ff},
                      {"tie_embeddings", c.tie_embeddings}};
  if (c.attention()) d["n_head"] = c.n_head;
  if (c.attention() && c.family != Family::kGpt2) d["n_kv_head"] = c.kv_heads();
  if (c.family == Family::kMoe) {
    d["n_experts"] = c.n_experts;
    d["top_k"] = c.top_k;
    d["n_shared_experts"] = c.n_shared_experts;
  }
  return d;
}

int usage(const std::string& message) {
  std::cerr << "bench_train_cpp: " << message << "\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  prepare_process_runtime(argc, argv);
  BenchOptions o;
  std::string corpus, device = "cpu", trace_dir;
  int threads = 2;
  double seconds = 5;
  bool describe_only = false;
  std::vector<std::pair<int64_t, int64_t>> shapes;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--describe") {
      describe_only = true;
      continue;
    }
    if (i + 1 >= argc) return usage(flag + " needs a value");
    const std::string value = argv[++i];
    if (flag == "--corpus")
      corpus = value;
    else if (flag == "--family") {
      const std::optional<Family> family = parse_family(value);
      if (!family) return usage("--family " + value + ": expected one of " + kFamilyNames);
      o.family = *family;
    } else if (flag == "--seq-len")
      o.seq_len = std::stoll(value);
    else if (flag == "--batch")
      o.batch = std::stoll(value);
    else if (flag == "--threads")
      threads = std::stoi(value);
    else if (flag == "--seconds")
      seconds = std::stod(value);
    else if (flag == "--head-dim")
      o.head_dim = std::stoll(value);
    else if (flag == "--n-kv-head")
      o.n_kv_head = std::stoll(value);
    else if (flag == "--experts")
      o.n_experts = std::stoll(value);
    else if (flag == "--top-k")
      o.top_k = std::stoll(value);
    else if (flag == "--shared-experts")
      o.n_shared_experts = std::stoll(value);
    else if (flag == "--device")
      device = value;
    else if (flag == "--trace")
      trace_dir = value;
    else if (flag == "--shape") {
      const auto x = value.find('x');
      if (x == std::string::npos) return usage("--shape " + value + ": expected LAYERSxD_MODEL");
      shapes.push_back({std::stoll(value.substr(0, x)), std::stoll(value.substr(x + 1))});
    } else {
      return usage("unknown flag " + flag);
    }
  }
  if (o.family == Family::kMoe && !(o.top_k >= 1 && o.top_k <= o.n_experts))
    return usage("--top-k must be in [1, --experts]");

  nlohmann::json out;
  out["family"] = to_string(o.family);
  out["runs"] = nlohmann::json::array();
  if (describe_only) {
    for (const auto& [n_layer, d_model] : shapes)
      out["runs"].push_back(describe(shape_of(n_layer, d_model, bench_rule(o, n_layer))));
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  if (corpus.empty()) return usage("--corpus is needed to train (or --describe)");
  TokenData data(corpus, 1, o.seq_len, 0.01);
  const MatmulRate rate = measure_cpu_matmul_rate(threads, 1.0, 1024);
  out["matmul_flops_per_second"] = rate.flops_per_second;
  out["threads"] = rate.threads;
  for (const auto& [n_layer, d_model] : shapes) {
    TrainConfig c;
    c.model = shape_of(n_layer, d_model, bench_rule(o, n_layer));
    c.batch_tokens = o.batch * o.seq_len;
    c.lr = 1e-3;
    c.warmup_steps = 0;
    c.eval_interval = 1 << 30;
    c.eval_tokens = o.seq_len;
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
    namespace profiler = torch::autograd::profiler;
    const torch::profiler::impl::ProfilerConfig trace(
        torch::profiler::impl::ProfilerState::KINETO);
    if (!trace_dir.empty()) {
      profiler::prepareProfiler(trace, {torch::profiler::impl::ActivityType::CPU});
      profiler::enableProfiler(trace, {torch::profiler::impl::ActivityType::CPU});
    }
    const RunResult result = train_run(c, data, {});
    if (!trace_dir.empty()) {
      profiler::disableProfiler()->save(trace_dir + "/" + to_string(o.family) + "-" +
                                        std::to_string(n_layer) + "x" + std::to_string(d_model) +
                                        "-cpp.json");
    }
    nlohmann::json row = describe(c.model);
    row["flops_per_token"] = c.flops_per_token;
    row["steps"] = c.steps;
    row["tokens_per_second"] = result.tokens_per_second;
    row["final_loss"] = result.final_eval_loss;
    out["runs"].push_back(row);
  }
  std::cout << out.dump(2) << "\n";
  return 0;
}
