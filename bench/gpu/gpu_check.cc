// bench/gpu/gpu_check: correctness of sweepd's CUDA paths on one GPU, for a
// machine without MPI or GoogleTest (bench/gpu/device_check runs it).
//
//   gpu_check --corpus FILE.u8 [--cpu-only] [--steps 200]
//
//  * nccl_*: a one-rank NCCL communicator (ncclGetUniqueId, ncclCommInitRank)
//    and ncclAllReduce(sum, fp32) on the current CUDA stream, out of place and
//    in place as worker/comm.cc's slot_all_reduce calls it: the result must
//    equal the input bit for bit.
//  * train_*: the tiny GPT of tests/tiny_model.h trained by model/train's
//    train_run on the CPU (fp32) and on CUDA (bf16 autocast) from the same
//    initialisation and batches: step-0 validation loss near ln 256 on both
//    and equal within bf16 rounding, the first step's loss and gradient norm
//    equal within tolerance, the loss falling on CUDA, the final losses close;
//    then gradient accumulation and checkpoint/resume on CUDA, and a GPT-2
//    small sized model on CUDA for a few steps.
//  * memory_cuda_*: that model under every sharding stage, with and without
//    activation checkpointing, on one rank: the same final loss as
//    unsharded, and the CUDA allocator's peak against the memory model.
//
// Prints one "PASS name: ..." or "FAIL name: ..." line per check (and "INFO"
// lines), then a summary; exits 1 when any check failed.

#include <torch/torch.h>
#include <torch/version.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "common/runtime.h"
#include "model/allocation_probe.h"
#include "model/counting.h"
#include "model/data.h"
#include "model/memory.h"
#include "model/throughput.h"
#include "model/train.h"
#include "version.h"

#ifdef GPU_CHECK_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAStream.h>
#endif
#ifdef GPU_CHECK_WITH_NCCL
#include <nccl.h>
#endif

using namespace sweep;

namespace {

int passed = 0, failed = 0;

void check(bool ok, const std::string& name, const std::string& detail) {
  std::printf("%s %s: %s\n", ok ? "PASS" : "FAIL", name.c_str(), detail.c_str());
  std::fflush(stdout);
  (ok ? passed : failed) += 1;
}

void info(const std::string& text) {
  std::printf("INFO %s\n", text.c_str());
  std::fflush(stdout);
}

std::string fmt(const char* format, double a, double b = 0, double c = 0, double d = 0) {
  char buffer[256];
  std::snprintf(buffer, sizeof(buffer), format, a, b, c, d);
  return buffer;
}

// tests/tiny_model.h's model and settings (copied: tests/ is not built here).
TrainConfig tiny_config(int64_t steps, const std::string& device) {
  TrainConfig c;
  c.model.n_layer = 2;
  c.model.d_model = 32;
  c.model.n_head = 4;
  c.model.d_ff = 128;
  c.model.vocab_size = 256;
  c.model.seq_len = 32;
  c.steps = steps;
  c.batch_tokens = 8 * 32;
  c.lr = 3e-3;
  c.warmup_steps = 5;
  c.eval_interval = 20;
  c.eval_tokens = 16 * 32;
  c.log_interval = 1;
  c.seed = 42;
  c.threads = 2;
  c.device = device;
  c.flops_per_token = 6.0 * double(count_params(c.model).total);
  return c;
}

struct Curve {
  RunResult result;
  std::vector<TrainRecord> train;
  std::vector<EvalRecord> eval;
  double seconds = 0;
};

// A GPT-2 small sized model (12 x 768, head_dim 64) on CUDA, on the token
// data's 32-token sequences, 64 per step.
TrainConfig gpt2_small_config(int64_t steps) {
  TrainConfig c = tiny_config(steps, "cuda");
  c.model.n_layer = 12;
  c.model.d_model = 768;
  c.model.n_head = 12;
  c.model.d_ff = 3072;
  c.model.seq_len = 32;  // the token data's sequence length
  c.batch_tokens = 64 * 32;
  c.eval_tokens = 64 * 32;
  c.eval_interval = 20;
  c.lr = 6e-4;
  c.warmup_steps = 2;
  return c;
}

Curve run(const TrainConfig& c, const TokenData& data, TrainHooks hooks = {}) {
  Curve curve;
  hooks.on_train = [&](const TrainRecord& r) { curve.train.push_back(r); };
  hooks.on_eval = [&](const EvalRecord& r) { curve.eval.push_back(r); };
  const auto t0 = std::chrono::steady_clock::now();
  curve.result = train_run(c, data, hooks);
  curve.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return curve;
}

#ifdef GPU_CHECK_WITH_NCCL
#define NCCL_OK(call)                                                                   \
  do {                                                                                  \
    const ncclResult_t _rc = (call);                                                    \
    if (_rc != ncclSuccess)                                                             \
      throw std::runtime_error(std::string(#call ": ") + ncclGetErrorString(_rc));      \
  } while (0)

void check_nccl() {
  int version = 0;
  NCCL_OK(ncclGetVersion(&version));
  info("NCCL version code " + std::to_string(version) + " (linked library)");
  ncclUniqueId id;
  NCCL_OK(ncclGetUniqueId(&id));
  ncclComm_t comm;
  NCCL_OK(ncclCommInitRank(&comm, 1, id, 0));
  int count = 0, device = -1, rank = -1;
  NCCL_OK(ncclCommCount(comm, &count));
  NCCL_OK(ncclCommCuDevice(comm, &device));
  NCCL_OK(ncclCommUserRank(comm, &rank));
  check(count == 1 && rank == 0 && device == 0, "nccl_comm_init",
        "ncclCommInitRank(1 rank): count " + std::to_string(count) + ", rank " +
            std::to_string(rank) + ", device " + std::to_string(device));

  // An odd size (a flat gradient buffer is any size), values that are not all
  // representable sums of other values: a one-rank sum must be the identity.
  const int64_t n = (1 << 20) + 12345;
  const auto options = torch::TensorOptions().dtype(torch::kFloat32).device(torch::kCUDA);
  torch::manual_seed(3);
  const torch::Tensor input = torch::randn({n}, options) * 3.0 + 0.1;
  const torch::Tensor expected = input.cpu();
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream().stream();

  torch::Tensor output = torch::full({n}, -1.0f, options);
  NCCL_OK(ncclAllReduce(input.data_ptr(), output.data_ptr(), size_t(n), ncclFloat32, ncclSum, comm,
                        stream));
  c10::cuda::getCurrentCUDAStream().synchronize();
  const bool out_ok = torch::equal(output.cpu(), expected);
  check(out_ok, "nccl_allreduce_out_of_place",
        std::to_string(n) + " fp32 values, sum over 1 rank " +
            (out_ok ? "equals the input bitwise" : "DIFFERS from the input, max |diff| " +
                                                       std::to_string((output.cpu() - expected)
                                                                          .abs()
                                                                          .max()
                                                                          .item<double>())));

  // In place on a view into a larger buffer, as slot_all_reduce does for the
  // flat gradients and for the 2-element eval sums.
  torch::Tensor flat = input.clone();
  torch::Tensor sums = torch::tensor({2.5f, 4.0f}, options);
  NCCL_OK(ncclAllReduce(flat.data_ptr(), flat.data_ptr(), size_t(flat.numel()), ncclFloat32,
                        ncclSum, comm, stream));
  NCCL_OK(ncclAllReduce(sums.data_ptr(), sums.data_ptr(), 2, ncclFloat32, ncclSum, comm, stream));
  c10::cuda::getCurrentCUDAStream().synchronize();
  const bool in_ok = torch::equal(flat.cpu(), expected) &&
                     torch::equal(sums.cpu(), torch::tensor({2.5f, 4.0f}));
  check(in_ok, "nccl_allreduce_in_place", in_ok ? "flat buffer and 2-element sums unchanged"
                                                : "in-place all-reduce changed the values");

  // Time a gradient-sized all-reduce (1 rank: a copy-through; shows the call overhead).
  for (int i = 0; i < 3; ++i)
    NCCL_OK(ncclAllReduce(flat.data_ptr(), flat.data_ptr(), size_t(n), ncclFloat32, ncclSum, comm,
                          stream));
  c10::cuda::getCurrentCUDAStream().synchronize();
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i)
    NCCL_OK(ncclAllReduce(flat.data_ptr(), flat.data_ptr(), size_t(n), ncclFloat32, ncclSum, comm,
                          stream));
  c10::cuda::getCurrentCUDAStream().synchronize();
  const double us = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() /
                    20 * 1e6;
  info(fmt("one-rank in-place ncclAllReduce of %.0f fp32: %.1f us per call", double(n), us));
  NCCL_OK(ncclCommDestroy(comm));
}
#endif

void check_training(const TokenData& data, int64_t steps, bool cuda) {
  const double ln_vocab = std::log(256.0);
  const Curve cpu = run(tiny_config(steps, "cpu"), data);
  check(cpu.result.outcome == RunOutcome::kDone && !cpu.eval.empty(), "train_cpu_runs",
        fmt("%.0f steps in %.2f s, eval loss %.4f -> %.4f", double(cpu.result.steps_done),
            cpu.seconds, cpu.eval.front().loss, cpu.eval.back().loss) +
            (cpu.result.reason.empty() ? "" : " (" + cpu.result.reason + ")"));
  check(std::abs(cpu.eval.front().loss - ln_vocab) < 0.1, "train_cpu_initial_loss",
        fmt("step-0 eval loss %.4f, ln 256 = %.4f", cpu.eval.front().loss, ln_vocab));
  check(cpu.eval.back().loss < cpu.eval.front().loss - 1.5, "train_cpu_learns",
        fmt("eval loss %.4f -> %.4f (must fall by > 1.5)", cpu.eval.front().loss,
            cpu.eval.back().loss));
  if (!cuda) return;

  const Curve gpu = run(tiny_config(steps, "cuda"), data);
  if (gpu.eval.empty() || gpu.train.empty()) {
    check(false, "train_cuda_runs", "no records: " + gpu.result.reason);
    return;
  }
  check(gpu.result.outcome == RunOutcome::kDone, "train_cuda_runs",
        fmt("%.0f steps in %.2f s, eval loss %.4f -> %.4f", double(gpu.result.steps_done),
            gpu.seconds, gpu.eval.front().loss, gpu.eval.back().loss) +
            (gpu.result.reason.empty() ? "" : " (" + gpu.result.reason + ")"));
  check(std::abs(gpu.eval.front().loss - ln_vocab) < 0.1, "train_cuda_initial_loss",
        fmt("step-0 eval loss %.4f, ln 256 = %.4f", gpu.eval.front().loss, ln_vocab));
  const double d0 = std::abs(gpu.eval.front().loss - cpu.eval.front().loss);
  check(d0 < 0.02, "train_cuda_matches_cpu_step0",
        fmt("step-0 eval loss CUDA %.5f, CPU %.5f, |diff| %.5f (tolerance 0.02: bf16 autocast)",
            gpu.eval.front().loss, cpu.eval.front().loss, d0));
  const TrainRecord &g1 = gpu.train.front(), &c1 = cpu.train.front();
  const double dl = std::abs(g1.loss - c1.loss);
  const double dn = std::abs(g1.grad_norm - c1.grad_norm) / std::max(1e-12, c1.grad_norm);
  check(g1.step == 1 && dl < 0.02 && dn < 0.05, "train_cuda_matches_cpu_step1",
        fmt("first step: loss CUDA %.5f / CPU %.5f; grad norm CUDA %.5f / CPU %.5f", g1.loss,
            c1.loss, g1.grad_norm, c1.grad_norm) +
            fmt(" (|dloss| %.5f < 0.02, rel dnorm %.4f < 0.05)", dl, dn));
  check(gpu.eval.back().loss < gpu.eval.front().loss - 1.5, "train_cuda_learns",
        fmt("eval loss %.4f -> %.4f (must fall by > 1.5)", gpu.eval.front().loss,
            gpu.eval.back().loss));
  const double df = std::abs(gpu.eval.back().loss - cpu.eval.back().loss);
  check(df < 0.1, "train_cuda_matches_cpu_final",
        fmt("final eval loss CUDA %.4f, CPU %.4f, |diff| %.4f (tolerance 0.1)",
            gpu.eval.back().loss, cpu.eval.back().loss, df));
  std::string curve = "eval curve step:CUDA/CPU";
  for (size_t i = 0; i < gpu.eval.size() && i < cpu.eval.size(); ++i)
    curve += fmt(" %.0f:%.3f/%.3f", double(gpu.eval[i].step), gpu.eval[i].loss, cpu.eval[i].loss);
  info(curve);

  // Gradient accumulation on CUDA: 4 micro-batches of 2 sequences = 1 of 8.
  {
    TrainConfig whole = tiny_config(30, "cuda"), split = whole;
    split.micro_batch_tokens = 2 * 32;
    const Curve a = run(whole, data), b = run(split, data);
    const double d = std::abs(a.train.back().loss - b.train.back().loss);
    const double d1 = std::abs(a.train.front().loss - b.train.front().loss);
    check(b.result.outcome == RunOutcome::kDone && d1 < 0.01 && d < 0.05,
          "train_cuda_accumulation",
          fmt("step 1 loss %.5f vs %.5f, step 30 loss %.4f vs %.4f (1x8 vs 4x2 sequences)",
              a.train.front().loss, b.train.front().loss, a.train.back().loss,
              b.train.back().loss));
  }

  // Checkpoint and resume on CUDA: stop after 25 steps, resume, finish at 60.
  {
    const std::string dir = (std::filesystem::temp_directory_path() / "sweepd_gpu_check").string();
    std::filesystem::create_directories(dir);
    const TrainConfig c = tiny_config(60, "cuda");
    const Curve straight = run(c, data);
    TrainHooks first;
    first.checkpoint_path = dir + "/run.ckpt";
    std::filesystem::remove(first.checkpoint_path);
    int64_t seen = 0;
    first.stop_requested = [&] { return seen >= 25; };
    std::vector<TrainRecord> pieces;
    first.on_train = [&](const TrainRecord& r) { pieces.push_back(r), ++seen; };
    const RunResult stopped = train_run(c, data, first);
    TrainHooks second;
    second.checkpoint_path = first.checkpoint_path;
    const Curve resumed = run(c, data, second);
    const bool ok = stopped.outcome == RunOutcome::kStopped && resumed.result.start_step > 0 &&
                    resumed.result.outcome == RunOutcome::kDone && !resumed.train.empty() &&
                    std::abs(resumed.train.back().loss - straight.train.back().loss) < 0.05;
    check(ok, "train_cuda_resume",
          fmt("stopped at step %.0f; final train loss resumed %.5f, uninterrupted %.5f",
              double(stopped.steps_done), resumed.train.empty() ? NAN : resumed.train.back().loss,
              straight.train.back().loss) +
              " (tolerance 0.05: CUDA kernels need not be bitwise reproducible)");
    std::filesystem::remove_all(dir);
  }

  // A GPT-2 small sized model (12 x 768, head_dim 64) for a few steps: the
  // bf16 flash-attention path at a real width.
  {
    const TrainConfig c = gpt2_small_config(20);
    const Curve big = run(c, data);
    const bool ok = big.result.outcome == RunOutcome::kDone && big.eval.size() >= 2 &&
                    std::abs(big.eval.front().loss - ln_vocab) < 0.15 &&
                    big.eval.back().loss < big.eval.front().loss;
    check(ok, "train_cuda_gpt2_small_shape",
          fmt("12x768 (%.1fM params): eval loss %.4f -> %.4f after %.0f steps",
              double(count_params(c.model).total) / 1e6,
              big.eval.empty() ? NAN : big.eval.front().loss,
              big.eval.empty() ? NAN : big.eval.back().loss, double(big.result.steps_done)) +
              (big.result.reason.empty() ? "" : " (" + big.result.reason + ")"));
  }

  // Sharding stages and activation checkpointing on one GPU (one-rank
  // collectives): the same curve as unsharded, and the peak bytes the CUDA
  // caching allocator hands out against the memory model (model/memory.h).
  {
    TrainConfig base = gpt2_small_config(12);
    base.eval_interval = 100;
    const Curve reference = run(base, data);
    for (const Sharding stage : {Sharding::kNone, Sharding::kOptimizer, Sharding::kGradients,
                                 Sharding::kParameters}) {
      for (const bool checkpointing : {false, true}) {
        TrainConfig c = base;
        c.sharding = stage;
        c.activation_checkpointing = checkpointing;
#ifdef GPU_CHECK_WITH_CUDA
        c10::cuda::CUDACachingAllocator::emptyCache();  // the peak of this run alone
#endif
        AllocationProbe probe;
        const int64_t before = probe.current_cuda();
        probe.reset_peak();
        const Curve curve = run(c, data);
        const double peak = double(probe.peak_cuda() - before);
        MemoryOptions o;
        o.sharding = stage;
        o.micro_batch_sequences = 64;
        o.activation_checkpointing = checkpointing;
        o.cuda = true;
        const double model = estimate_memory(c.model, o).total();
        const double d = curve.train.empty() || reference.train.empty()
                             ? NAN
                             : std::abs(curve.train.back().loss - reference.train.back().loss);
        const std::string name = std::string("memory_cuda_") + to_string(stage) +
                                 (checkpointing ? "_checkpointing" : "");
        check(curve.result.outcome == RunOutcome::kDone && d < 0.05 && peak / model > 0.6 &&
                  peak / model < 1.4,
              name,
              fmt("12x768, 64 x 32 tokens: allocator peak %.1f MB, model %.1f MB (ratio %.3f)",
                  peak / 1e6, model / 1e6, peak / model) +
                  fmt("; final loss %.4f vs unsharded %.4f",
                      curve.train.empty() ? NAN : curve.train.back().loss,
                      reference.train.back().loss));
      }
    }
  }

  // What `sweepd plan` would measure on this GPU for two shapes (information).
  for (const auto& [layers, width] : std::vector<std::pair<int64_t, int64_t>>{{2, 56}, {12, 768}}) {
    ModelConfig m;
    m.n_layer = layers;
    m.d_model = width;
    m.n_head = width >= 256 ? width / 64 : width / 8;
    m.d_ff = 4 * width;
    m.vocab_size = 256;
    m.seq_len = 256;
    const int64_t batch = 32 * 256;
    const double s = measure_step_seconds(m, batch, 0, 2, "cuda", 24);
    info(fmt("measure_step_seconds(cuda) %.0fx%.0f, 8192 tokens/step: %.2f ms/step, %.0f tokens/s",
             double(layers), double(width), s * 1e3, double(batch) / s));
  }
}

}  // namespace

int main(int argc, char** argv) {
  prepare_process_runtime(argc, argv);
  std::string corpus;
  bool cpu_only = false;
  int64_t steps = 200;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--corpus" && i + 1 < argc)
      corpus = argv[++i];
    else if (flag == "--steps" && i + 1 < argc)
      steps = std::stoll(argv[++i]);
    else if (flag == "--cpu-only")
      cpu_only = true;
    else {
      std::fprintf(stderr, "usage: gpu_check --corpus FILE.u8 [--steps N] [--cpu-only]\n");
      return 2;
    }
  }
  if (corpus.empty()) {
    std::fprintf(stderr, "gpu_check: --corpus FILE.u8 is required\n");
    return 2;
  }
  info(std::string("sweepd ") + kVersion + ", LibTorch " + TORCH_VERSION);
  const bool have_cuda = torch::cuda::is_available();
  info("torch::cuda::is_available() = " + std::string(have_cuda ? "true" : "false") +
       ", devices: " + std::to_string(have_cuda ? torch::cuda::device_count() : 0));
  bool cuda = have_cuda && !cpu_only;
#ifndef GPU_CHECK_WITH_CUDA
  if (cuda) info("built without CUDA/NCCL checks (LibTorch without CUDA)");
#endif
  if (!cpu_only && !have_cuda) check(false, "cuda_available", "no CUDA device visible to LibTorch");
  try {
#ifdef GPU_CHECK_WITH_NCCL
    if (cuda) check_nccl();
#else
    if (cuda) check(false, "nccl_built", "gpu_check was built without NCCL (nccl.h or libnccl not found)");
#endif
    const TokenData data(corpus, 1, 32, 0.05);
    info(fmt("corpus %.0f tokens (%.0f train, %.0f validation)", double(data.size()),
             double(data.train_tokens()), double(data.validation_tokens())));
    check_training(data, steps, cuda);
  } catch (const std::exception& e) {
    check(false, "exception", e.what());
  }
  std::printf("gpu_check: %d passed, %d failed%s\n", passed, failed,
              cpu_only ? " (CPU only)" : "");
  return failed == 0 ? 0 : 1;
}
