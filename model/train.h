#pragma once
// train_run: one training run, start to finish (or to a stop request), on one
// rank of a data-parallel slot. Knows nothing of MPI or HDF5: the worker passes
// gradient all-reduce, record sinks and the stop flag in as hooks.
//
// The loop (nanoGPT's train.py, with the scaling-law corrections):
//   * AdamW with decoupled weight decay on matrices and embeddings only;
//   * LR: linear warmup, then a cosine as long as this run's own token budget,
//     down to min_lr_ratio x peak (Chinchilla's correction to Kaplan);
//   * gradient accumulation to reach the global batch, gradient-norm clipping;
//   * evaluation on a fixed validation set every eval_interval steps and at the end;
//   * bf16 autocast on CUDA, fp32 on CPU.
// Parameters, gradients and AdamW's moments live in flat fp32 buffers, whole
// or sharded over the slot (model/sharded_state.h), so the optimizer, clipping
// and the collectives are a handful of operations per unit of the model
// whatever its size; for the small models of a scaling study that per-step
// overhead is most of the cost.
//
// A step whose loss or gradient norm is not finite, or whose loss exceeds
// divergence_factor x ln(vocab) after warmup, ends the run as diverged with
// its step: a result, not an exception. An exception on any rank (out of
// memory, a bad checkpoint, an injected fault) ends the run as failed on
// every rank of the slot at the same point: a flag travels with the loop's
// reductions, so no rank is left waiting in a collective (see train.cc).
//
// Checkpoints (parameters, optimizer moments, step, RNG state and the curve so
// far) are written atomically every checkpoint_interval seconds and on a stop
// request; a run given an existing checkpoint resumes from it and follows the
// same curve (bitwise on CPU: batches are a pure function of seed and step).

#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "common/records.h"
#include "model/collectives.h"
#include "model/config.h"
#include "model/data.h"
#include "model/memory.h"

namespace sweep {

// A fault to inject at one optimizer step of one rank (SWEEP_FAULT, parsed by
// worker/fault.h): a throw (the run fails on every rank), a NaN loss (the run
// diverges) or the process exiting (the MPI job ends; a rerun resumes).
struct FaultInjection {
  enum class Kind { kNone, kThrow, kNan, kExit };
  Kind kind = Kind::kNone;
  int64_t step = 0;  // 1-based: the forward/backward that would complete this step

  bool fires(int64_t completing_step) const {
    return kind != Kind::kNone && completing_step == step;
  }
  // Throws, exits, or returns the loss made NaN.
  torch::Tensor inject(const torch::Tensor& loss, int64_t completing_step, int rank) const;
};

struct TrainConfig {
  ModelConfig model;
  int64_t steps = 0;               // optimizer steps
  int64_t batch_tokens = 0;        // tokens per step over all ranks and micro-batches
  int64_t micro_batch_tokens = 0;  // tokens per forward/backward on one rank; 0 = its share
  double lr = 1e-3;                // peak learning rate
  double min_lr_ratio = 0.1;       // cosine floor as a fraction of peak
  int64_t warmup_steps = 0;
  double weight_decay = 0.1;
  double beta1 = 0.9, beta2 = 0.95, eps = 1e-8;
  double grad_clip = 1.0;       // 0 = off
  int64_t eval_interval = 100;  // steps
  int64_t eval_tokens = 65536;
  int64_t log_interval = 10;       // steps between train records (also first and last)
  uint64_t seed = 0;               // initialisation and data order
  double flops_per_token = 0;      // for records, in the job's convention
  std::string device = "cpu";      // "cpu", "cuda", "cuda:1"
  int threads = 0;                 // intra-op threads on CPU; 0 = leave as is
  int rank = 0, world = 1;         // this rank's place in its data-parallel slot
  Sharding sharding = Sharding::kNone;    // what is sharded over the slot (ZeRO stage)
  bool activation_checkpointing = false;  // recompute each block in backward
  double divergence_factor = 1.5;  // loss > factor * ln(vocab) after warmup = diverged
  FaultInjection fault;            // none unless SWEEP_FAULT names this run and rank
};

struct TrainHooks {
  // The slot's collectives (default: one rank).
  Collectives collectives;
  std::function<void(const TrainRecord&)> on_train;
  std::function<void(const EvalRecord&)> on_eval;
  // Polled every step on each rank (no collective); when it is true on any
  // rank, the slot checkpoints and returns kStopped.
  std::function<bool()> stop_requested;
  std::string checkpoint_path;       // "" = no checkpoints
  double checkpoint_interval = 600;  // seconds of wall time between checkpoints
};

// The reason a rank gives when another rank of its slot failed.
inline constexpr const char* kPeerFailed = "another rank of the slot failed";

// Never throws for what happens inside the run (FatalError from a broken
// collective aside): the result says done, diverged, failed or stopped.
RunResult train_run(const TrainConfig& config, const TokenData& data, const TrainHooks& hooks);

// The curve stored in a checkpoint: what a resumed run has already reported.
// A store truncates the run's curves to it before resuming, so no step appears
// twice and nothing reported before the checkpoint is lost.
struct CheckpointCurves {
  int64_t step = 0;
  std::vector<TrainRecord> train;
  std::vector<EvalRecord> eval;
};
CheckpointCurves read_checkpoint_curves(const std::string& path);

// Learning rate at `step` (0-based): warmup, cosine, and the floor at the
// run's last step.
double lr_at(const TrainConfig& config, int64_t step);

}  // namespace sweep
