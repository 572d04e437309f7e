#include "worker/worker.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <thread>

#include "common/check.h"
#include "common/error.h"
#include "spec/memory_plan.h"

#ifdef SWEEP_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace sweep {

std::string choose_device(const std::string& requested, int local_rank) {
  const bool cuda = torch::cuda::is_available();
  if (requested == "cpu" || (requested == "auto" && !cuda)) return "cpu";
  if (!cuda) throw UserError("resources.device = \"cuda\" but LibTorch sees no CUDA device");
  // One GPU per rank on a node: bind by node-local rank.
  return "cuda:" + std::to_string(local_rank % int(torch::cuda::device_count()));
}

int choose_threads(int64_t requested, int local_ranks) {
  if (requested > 0) return int(requested);
  const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(1, cores / std::max(1, local_ranks));
}

double memory_per_rank(const JobSpec& job, const std::string& device) {
  if (job.resources.memory_per_rank > 0) return job.resources.memory_per_rank;
#ifdef SWEEP_WITH_CUDA
  if (device.rfind("cuda", 0) == 0) {
    size_t free = 0, total = 0;
    if (cudaMemGetInfo(&free, &total) == cudaSuccess) return double(total);
  }
#endif
  (void)device;
  return 0;
}

TrainConfig make_train_config(const JobSpec& job, const RunSpec& run, const std::string& device,
                              int threads, int world, int recipe_index) {
  TrainConfig c;
  c.world = world;
  const bool tuned = run.recipe_at_start();
  SWEEP_CHECK(!tuned || recipe_index >= 0,
              run.run_id + ": its variant's recipe is tuned, but none was chosen");
  const TrainSection& recipe = run_recipe(job, run, tuned ? recipe_index : -1);
  const bool cuda = device.rfind("cuda", 0) == 0;
  c.sharding = choose_sharding(job, run, world, memory_per_rank(job, device), cuda).sharding;
  c.activation_checkpointing = job.train.activation_checkpointing;
  c.model = run.model;
  c.steps = run.steps;
  c.batch_tokens = job.train.batch_tokens;
  c.micro_batch_tokens = job.train.micro_batch_tokens;
  c.lr = tuned ? peak_lr(recipe, run.model) : run.lr;
  c.min_lr_ratio = recipe.min_lr_ratio;
  c.warmup_steps = run.warmup_steps;
  c.weight_decay = recipe.weight_decay;
  c.beta1 = recipe.beta1;
  c.beta2 = recipe.beta2;
  c.grad_clip = recipe.grad_clip;
  c.eval_interval = job.train.eval_interval;
  c.eval_tokens = job.train.eval_tokens;
  c.log_interval = job.train.log_interval;
  c.seed = run.seed;
  c.flops_per_token = run.flops_per_token;
  c.device = device;
  c.threads = threads;
  return c;
}

std::string checkpoint_path(const std::string& output, const RunSpec& run) {
  std::filesystem::path dir(output);
  dir.replace_extension(".ckpt");
  return (dir / (run.run_id + ".pt")).string();
}

RunResult run_one(const TrainConfig& config, const TokenData& data, const RunSink& sink,
                  const std::string& checkpoint, double checkpoint_interval,
                  const std::function<bool()>& stop_requested,
                  const Collectives& collectives) {
  TrainHooks hooks;
  hooks.collectives = collectives;
  hooks.on_train = sink.on_train;
  hooks.on_eval = sink.on_eval;
  hooks.stop_requested = stop_requested;
  hooks.checkpoint_path = checkpoint;
  hooks.checkpoint_interval = checkpoint_interval;
  return train_run(config, data, hooks);
}

}  // namespace sweep
