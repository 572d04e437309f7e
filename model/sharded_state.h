#pragma once
// A model's training state on one rank of a data-parallel slot: parameters,
// gradients and AdamW's moments in flat fp32 buffers, whole or sharded over
// the slot's ranks (ZeRO stages; model/memory.h has the bytes each holds).
//
// Layout. The parameters are cut into units: the outer unit (token and
// position embeddings, the final norm, an untied head) and one unit per
// block. Each unit is one contiguous segment, its weight matrices and
// embeddings (decayed) first, padded to a multiple of the slot's ranks; rank r
// owns chunk r of every unit. So a unit is gathered or reduce-scattered with
// one collective on its own segment, and one rank's shard is contiguous for
// the optimizer.
//
//   none        full parameters, full gradients all-reduced, full moments.
//   optimizer   full parameters and gradients; after backward each unit's
//               gradient is reduce-scattered into the shard, AdamW steps the
//               shard, each unit's parameters are all-gathered.
//   gradients   as optimizer, but a unit's gradient lives only while backward
//               computes it: a block's full gradient buffer is made when
//               backward reaches the block and reduce-scattered (added into
//               the shard) and freed when it leaves it.
//   parameters  as gradients, and each rank keeps only its chunk of the
//               parameters: a block is gathered before its forward and freed
//               after it, gathered again before its backward and freed after
//               it (the storage under the parameters is freed and made again,
//               as FSDP does, so autograd's saved views see the gathered
//               values); the outer unit stays gathered from the start of the
//               forward to the end of the backward.
//
// The gradient collectives of stages 2 and 3 run inside backward (tensor
// hooks at block boundaries; AccumulateGrad runs before any other node that
// is ready, so a block's parameter gradients are complete when the hook on its
// input fires). A rank whose work throws must still make the collectives its
// peers make: a phase (one step's forward and backward, or one evaluation)
// knows the collectives it will make, and finish_phase() makes, with scratch
// buffers, those this rank has not made.

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "model/collectives.h"
#include "model/language_model.h"
#include "model/memory.h"

namespace sweep {

struct AdamWSettings {
  double lr = 0, weight_decay = 0, beta1 = 0.9, beta2 = 0.95, eps = 1e-8;
};

class ShardedState {
 public:
  // Moves `model`'s parameters into the state's buffers (they become views).
  ShardedState(LanguageModel& model, const torch::Device& device, Sharding sharding,
               const Collectives& collectives, bool activation_checkpointing);
  ~ShardedState();
  ShardedState(const ShardedState&) = delete;
  ShardedState& operator=(const ShardedState&) = delete;

  Sharding sharding() const { return sharding_; }
  bool sharded() const { return sharding_ != Sharding::kNone && !collectives_.single(); }

  // Phases. begin_step() starts one step's forward/backward over
  // `micro_batches`; begin_eval() an evaluation of `forwards` forward passes.
  void begin_step(int64_t micro_batches);
  void begin_eval(int64_t forwards);
  // Around one forward (and its backward, when training): gathers the outer
  // unit (parameters) and makes its gradient buffer (gradients, parameters).
  void begin_forward(bool training);
  void end_backward();  // reduce-scatters and frees the outer unit's gradient
  void end_forward();   // evaluation: frees the outer unit's parameters
  // Makes the collectives of the phase this rank has not made because its
  // work failed; on a rank that did not fail, checks that it made them all.
  void finish_phase(bool failed);

  // After the phase: gradients summed over the slot (all-reduce, or the
  // unit reduce-scatters of stage 1) and divided by the slot's ranks.
  void reduce_gradients();
  // Squared norm of the gradient this rank holds (the whole gradient, or its
  // shard: the slot's norm is then the sum over ranks), on the host.
  torch::Tensor local_grad_norm_sq() const;
  void scale_gradients(const torch::Tensor& factor);
  // torch.optim.AdamW on what this rank steps (t is 1-based).
  void adamw_step(int64_t t, const AdamWSettings& s);
  // Stages 1-2: all-gathers every unit's updated parameters.
  void gather_parameters();
  void zero_grad();

  // Checkpoints, in model order (model->parameters(), unpadded), whatever the
  // layout. Collective; the full tensors are returned on rank 0 (undefined
  // elsewhere), on the CPU.
  struct Full {
    torch::Tensor params, exp_avg, exp_avg_sq;
  };
  Full gather_full();
  void load_full(const Full& full);  // every rank, from the full tensors

  int64_t numel() const { return real_numel_; }  // parameters, unpadded

 private:
  struct Unit {
    std::vector<torch::Tensor> params;  // module parameters, decayed first
    int64_t numel = 0, decayed = 0;     // real elements; decayed prefix
    int64_t chunk = 0;                  // elements per rank (padded numel / ranks)
    int64_t offset = 0;                 // chunk offset in the shard buffers
    torch::Tensor full;                 // padded full parameters (a view of params_ for 0-2)
    torch::Tensor grad;                 // padded full gradient while it exists
    bool gathered = true;
  };
  enum class Op : int8_t { kGather, kReduceScatter };
  struct Planned {
    Op op;
    int unit;
  };

  torch::Tensor run_block(int64_t index, const std::shared_ptr<ModelBlock>& block,
                          const torch::Tensor& x);
  void gather(int unit);
  void release(int unit);
  void make_grad(int unit);
  void reduce_scatter_grad(int unit);
  void expect(Op op, int unit);
  void plan_forward(bool training);
  torch::Tensor my_chunk(const Unit& unit) const;  // the slice of full parameters this rank steps
  int64_t padded(const Unit& unit) const { return unit.chunk * ranks_; }

  LanguageModel& model_;
  torch::Device device_;
  Sharding sharding_;
  Collectives collectives_;
  bool checkpointing_;
  int ranks_ = 1;
  std::vector<Unit> units_;  // 0: outer; 1 + b: block b
  int64_t real_numel_ = 0;
  torch::Tensor params_;  // stages 0-2: all padded units' parameters
  torch::Tensor grads_;   // stages 0-1: all padded units' gradients
  torch::Tensor shard_params_, shard_grads_, exp_avg_, exp_avg_sq_;  // this rank's chunks
  std::vector<Planned> plan_;
  size_t done_ = 0;
};

}  // namespace sweep
