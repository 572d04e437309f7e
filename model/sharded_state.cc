#include "model/sharded_state.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include "common/check.h"
#include "model/recompute.h"
#include "model/torch_version.h"

namespace sweep {
namespace {

// The bytes under `t` (and every view of its storage) freed and made again,
// as FSDP does with storage().resize_(0): views keep their sizes and see the
// new bytes once they exist.
void free_storage(const torch::Tensor& t) {
  c10::StorageImpl* s = t.storage().unsafeGetStorageImpl();
  s->set_data_ptr_noswap(c10::DataPtr(nullptr, t.device()));
  s->set_nbytes(0);
}

void make_storage(const torch::Tensor& t, int64_t numel) {
  c10::StorageImpl* s = t.storage().unsafeGetStorageImpl();
  const size_t bytes = size_t(numel) * sizeof(float);
  s->set_data_ptr_noswap(s->allocator()->allocate(bytes));
  s->set_nbytes(bytes);
}

// Model order (model->parameters(), unpadded): each parameter's offset.
std::map<const void*, int64_t> model_offsets(LanguageModel& model) {
  std::map<const void*, int64_t> offsets;
  int64_t at = 0;
  for (const auto& p : model.parameters()) {
    offsets[p.unsafeGetTensorImpl()] = at;
    at += p.numel();
  }
  return offsets;
}

}  // namespace

ShardedState::ShardedState(LanguageModel& model, const torch::Device& device, Sharding sharding,
                           const Collectives& collectives, bool activation_checkpointing)
    : model_(model),
      device_(device),
      sharding_(sharding),
      collectives_(collectives),
      checkpointing_(activation_checkpointing) {
  ranks_ = sharding_ == Sharding::kNone ? 1 : std::max(1, collectives_.size);
  // Units: the blocks' parameters, and the rest (the outer unit) in model order.
  std::map<const void*, int> unit_of;
  const int64_t blocks = int64_t(model.blocks().size());
  units_.resize(size_t(1 + blocks));
  for (int64_t b = 0; b < blocks; ++b) {
    for (const auto& p : model.blocks()[size_t(b)]->parameters())
      unit_of[p.unsafeGetTensorImpl()] = int(1 + b);
  }
  for (int pass = 0; pass < 2; ++pass) {  // decayed (matrices, embeddings) first
    for (const auto& p : model.parameters()) {
      if ((p.dim() >= 2) != (pass == 0)) continue;
      auto it = unit_of.find(p.unsafeGetTensorImpl());
      Unit& unit = units_[size_t(it == unit_of.end() ? 0 : it->second)];
      unit.params.push_back(p);
      unit.numel += p.numel();
      if (pass == 0) unit.decayed += p.numel();
    }
  }
  int64_t shard = 0;
  for (Unit& unit : units_) {
    unit.chunk = (unit.numel + ranks_ - 1) / ranks_;
    unit.offset = shard;
    shard += unit.chunk;
    real_numel_ += unit.numel;
  }
  const auto options = torch::TensorOptions().dtype(torch::kFloat32).device(device);
  const bool stage3 = sharding_ == Sharding::kParameters;
  torch::NoGradGuard no_grad;
  const int rank = ranks_ == 1 ? 0 : collectives_.rank;
  // The parameters move first, so the model's own tensors are freed before
  // the gradients and moments are made (the state's peak stays its own).
  if (stage3) {
    shard_params_ = torch::zeros({shard}, options);
  } else {
    params_ = torch::zeros({shard * ranks_}, options);
  }
  for (Unit& unit : units_) {
    unit.full = stage3 ? torch::zeros({padded(unit)}, options)
                       : params_.narrow(0, unit.offset * ranks_, padded(unit));
    int64_t at = 0;
    for (auto& p : unit.params) {
      const int64_t n = p.numel();
      unit.full.narrow(0, at, n).copy_(p.detach().reshape({-1}));
      p.set_data(unit.full.narrow(0, at, n).view(p.sizes()));
      at += n;
    }
    if (stage3) {
      shard_params_.narrow(0, unit.offset, unit.chunk)
          .copy_(unit.full.narrow(0, rank * unit.chunk, unit.chunk));
      free_storage(unit.full);
      unit.gathered = false;
    }
  }
  if (sharding_ == Sharding::kNone || sharding_ == Sharding::kOptimizer) {
    grads_ = torch::zeros({shard * ranks_}, options);
    for (Unit& unit : units_) {
      int64_t at = unit.offset * ranks_;
      for (auto& p : unit.params) {
        p.mutable_grad() = grads_.narrow(0, at, p.numel()).view(p.sizes());
        at += p.numel();
      }
    }
  }
  shard_grads_ = sharding_ == Sharding::kNone ? grads_ : torch::zeros({shard}, options);
  exp_avg_ = torch::zeros({shard}, options);
  exp_avg_sq_ = torch::zeros({shard}, options);
  model_.set_block_runner([this](int64_t index, const std::shared_ptr<ModelBlock>& block,
                                 const torch::Tensor& x) { return run_block(index, block, x); });
}

ShardedState::~ShardedState() { model_.set_block_runner(nullptr); }

torch::Tensor ShardedState::my_chunk(const Unit& unit) const {
  if (sharding_ == Sharding::kParameters) return shard_params_.narrow(0, unit.offset, unit.chunk);
  const int rank = ranks_ == 1 ? 0 : collectives_.rank;
  return unit.full.narrow(0, rank * unit.chunk, unit.chunk);
}

void ShardedState::expect(Op op, int unit) {
  SWEEP_CHECK(done_ < plan_.size() && plan_[done_].op == op && plan_[done_].unit == unit,
              "sharded state: collective out of the phase's order");
  ++done_;
}

void ShardedState::gather(int u) {
  expect(Op::kGather, u);
  Unit& unit = units_[size_t(u)];
  torch::NoGradGuard no_grad;
  if (!unit.gathered) make_storage(unit.full, padded(unit));
  const int rank = ranks_ == 1 ? 0 : collectives_.rank;
  unit.full.narrow(0, rank * unit.chunk, unit.chunk)
      .copy_(shard_params_.narrow(0, unit.offset, unit.chunk));
  if (ranks_ > 1) collectives_.all_gather(unit.full);
  unit.gathered = true;
}

void ShardedState::release(int u) {
  Unit& unit = units_[size_t(u)];
  if (sharding_ != Sharding::kParameters || !unit.gathered) return;
  free_storage(unit.full);
  unit.gathered = false;
}

void ShardedState::make_grad(int u) {
  Unit& unit = units_[size_t(u)];
  if (unit.grad.defined()) return;
  unit.grad = torch::zeros({padded(unit)}, shard_grads_.options());
  int64_t at = 0;
  for (auto& p : unit.params) {
    p.mutable_grad() = unit.grad.narrow(0, at, p.numel()).view(p.sizes());
    at += p.numel();
  }
}

void ShardedState::reduce_scatter_grad(int u) {
  expect(Op::kReduceScatter, u);
  Unit& unit = units_[size_t(u)];
  if (!unit.grad.defined()) make_grad(u);  // a failed rank's stand-in
  torch::NoGradGuard no_grad;
  torch::Tensor mine = shard_grads_.narrow(0, unit.offset, unit.chunk);
  if (ranks_ > 1) {
    torch::Tensor summed = torch::empty({unit.chunk}, shard_grads_.options());
    collectives_.reduce_scatter_sum(unit.grad, summed);
    mine.add_(summed);
  } else {
    mine.add_(unit.grad);
  }
  for (auto& p : unit.params) p.mutable_grad() = torch::Tensor();
  unit.grad = torch::Tensor();
}

torch::Tensor ShardedState::run_block(int64_t index, const std::shared_ptr<ModelBlock>& block,
                                      const torch::Tensor& x) {
  const int u = int(index + 1);
  const bool stage3 = sharding_ == Sharding::kParameters;
  const bool training = torch::GradMode::is_enabled() && x.requires_grad();
  if (stage3) gather(u);
  torch::Tensor y = checkpointing_ && training
                        ? recompute_in_backward([module = block](const torch::Tensor& t) {
                            return module->forward(t);
                          }, x)
                        : block->forward(x);
  release(u);
  if (training && (sharding_ == Sharding::kGradients || stage3)) {
    // Backward leaves block u when the gradient of its input is complete:
    // its gradient is reduce-scattered and freed, and the block before it is
    // readied (gathered, a gradient buffer made).
    x.register_hook([this, u, stage3](const torch::Tensor&) {
      reduce_scatter_grad(u);
      release(u);
      if (u > 1) {
        if (stage3) gather(u - 1);
        make_grad(u - 1);
      }
    });
    if (u == int(units_.size()) - 1) {  // the last block: ready before backward reaches it
      y.register_hook([this, u, stage3](const torch::Tensor&) {
        if (stage3) gather(u);
        make_grad(u);
      });
    }
  }
  return y;
}

void ShardedState::plan_forward(bool training) {
  const int last = int(units_.size()) - 1;
  if (sharding_ == Sharding::kParameters) {
    for (int u = 0; u <= last; ++u) plan_.push_back({Op::kGather, u});
    if (!training) return;
    if (last > 0) plan_.push_back({Op::kGather, last});
    for (int u = last; u >= 1; --u) {
      plan_.push_back({Op::kReduceScatter, u});
      if (u > 1) plan_.push_back({Op::kGather, u - 1});
    }
    plan_.push_back({Op::kReduceScatter, 0});
  } else if (sharding_ == Sharding::kGradients && training) {
    for (int u = last; u >= 0; --u) plan_.push_back({Op::kReduceScatter, u});
  }
}

void ShardedState::begin_step(int64_t micro_batches) {
  plan_.clear();
  done_ = 0;
  for (int64_t i = 0; i < micro_batches; ++i) plan_forward(true);
  torch::NoGradGuard no_grad;
  if (grads_.defined()) grads_.zero_();
  shard_grads_.zero_();
}

void ShardedState::begin_eval(int64_t forwards) {
  plan_.clear();
  done_ = 0;
  for (int64_t i = 0; i < forwards; ++i) plan_forward(false);
}

void ShardedState::begin_forward(bool training) {
  if (sharding_ == Sharding::kParameters) gather(0);
  if (training && (sharding_ == Sharding::kGradients || sharding_ == Sharding::kParameters))
    make_grad(0);
}

void ShardedState::end_backward() {
  if (sharding_ == Sharding::kGradients || sharding_ == Sharding::kParameters)
    reduce_scatter_grad(0);
  release(0);
}

void ShardedState::end_forward() { release(0); }

void ShardedState::finish_phase(bool failed) {
  SWEEP_CHECK(failed || done_ == plan_.size(),
              "sharded state: a phase ended without all its collectives");
  // What is left is what a failure skipped: made with whatever the buffers
  // hold (the run is over on every rank at the next flagged reduction).
  while (done_ < plan_.size()) {
    const Planned next = plan_[done_];
    if (next.op == Op::kGather) {
      gather(next.unit);
    } else {
      reduce_scatter_grad(next.unit);
    }
  }
  for (size_t u = 0; u < units_.size(); ++u) {
    release(int(u));
    if (units_[u].grad.defined() && sharding_ != Sharding::kNone &&
        sharding_ != Sharding::kOptimizer) {
      for (auto& p : units_[u].params) p.mutable_grad() = torch::Tensor();
      units_[u].grad = torch::Tensor();
    }
  }
  plan_.clear();
  done_ = 0;
}

void ShardedState::reduce_gradients() {
  torch::NoGradGuard no_grad;
  if (sharding_ == Sharding::kOptimizer) {
    for (Unit& unit : units_) {
      torch::Tensor mine = shard_grads_.narrow(0, unit.offset, unit.chunk);
      const torch::Tensor full = grads_.narrow(0, unit.offset * ranks_, padded(unit));
      if (ranks_ > 1) {
        collectives_.reduce_scatter_sum(full, mine);
      } else {
        mine.copy_(full);
      }
    }
  }
  if (collectives_.single()) return;
  if (sharding_ == Sharding::kNone) collectives_.all_reduce_sum(grads_);
  shard_grads_.div_(double(collectives_.size));
}

torch::Tensor ShardedState::local_grad_norm_sq() const {
  const torch::Tensor norm = shard_grads_.norm();
  return (norm * norm).reshape({1});
}

void ShardedState::scale_gradients(const torch::Tensor& factor) {
  torch::NoGradGuard no_grad;
  shard_grads_.mul_(factor);
}

void ShardedState::adamw_step(int64_t t, const AdamWSettings& s) {
  torch::NoGradGuard no_grad;
  const int rank = ranks_ == 1 ? 0 : collectives_.rank;
  // Per unit: this rank's chunk and how much of it is decayed.
  auto decayed_in_chunk = [&](const Unit& unit) {
    return std::clamp<int64_t>(unit.decayed - rank * unit.chunk, 0, unit.chunk);
  };
  // ATen's fused AdamW (torch.optim.AdamW(fused=True)): one pass over the
  // four buffers, decayed and not-decayed slices as its two calls. CUDA has
  // it from LibTorch 2.0, the CPU from 2.4 (there it is 6-9x faster than the
  // separate passes below on 0.16-4.6M parameters: bench/RESULTS.md).
#if SWEEP_TORCH_AT_LEAST(2, 0)
  if (exp_avg_.is_cuda() || SWEEP_TORCH_AT_LEAST(2, 4)) {
    const torch::Tensor step = torch::full({}, double(t), exp_avg_.options());
    for (const bool decay : {true, false}) {
      std::vector<torch::Tensor> p, g, m, v, steps;
      for (const Unit& unit : units_) {
        const int64_t d = decayed_in_chunk(unit);
        const int64_t begin = decay ? 0 : d, length = decay ? d : unit.chunk - d;
        if (length == 0) continue;
        p.push_back(my_chunk(unit).narrow(0, begin, length));
        g.push_back(shard_grads_.narrow(0, unit.offset + begin, length));
        m.push_back(exp_avg_.narrow(0, unit.offset + begin, length));
        v.push_back(exp_avg_sq_.narrow(0, unit.offset + begin, length));
        steps.push_back(step);
      }
      if (p.empty()) continue;
      at::_fused_adamw_(p, g, m, v, /*max_exp_avg_sqs=*/{}, steps, s.lr, s.beta1, s.beta2,
                        decay ? s.weight_decay : 0.0, s.eps, /*amsgrad=*/false, /*maximize=*/false);
    }
    return;
  }
#endif
  // Older LibTorch on CPU: torch.optim.AdamW's update (foreach form) on the
  // whole shard, the decay and the parameter update per unit.
  exp_avg_.lerp_(shard_grads_, 1.0 - s.beta1);
  exp_avg_sq_.mul_(s.beta2).addcmul_(shard_grads_, shard_grads_, 1.0 - s.beta2);
  const double bias1 = 1.0 - std::pow(s.beta1, double(t));
  const double bias2 = 1.0 - std::pow(s.beta2, double(t));
  torch::Tensor denom = exp_avg_sq_.sqrt();  // the step's one temporary (model/memory.h)
  denom.div_(std::sqrt(bias2)).add_(s.eps);
  for (const Unit& unit : units_) {
    torch::Tensor p = my_chunk(unit);
    const int64_t d = decayed_in_chunk(unit);
    if (s.weight_decay > 0 && d > 0) p.narrow(0, 0, d).mul_(1.0 - s.lr * s.weight_decay);
    p.addcdiv_(exp_avg_.narrow(0, unit.offset, unit.chunk), denom.narrow(0, unit.offset, unit.chunk),
               -s.lr / bias1);
  }
}

void ShardedState::gather_parameters() {
  if (ranks_ == 1 || sharding_ == Sharding::kNone || sharding_ == Sharding::kParameters) return;
  torch::NoGradGuard no_grad;
  for (Unit& unit : units_) collectives_.all_gather(unit.full);
}

ShardedState::Full ShardedState::gather_full() {
  torch::NoGradGuard no_grad;
  const int rank = ranks_ == 1 ? 0 : collectives_.rank;
  const bool leader = collectives_.rank == 0;
  Full out;
  if (leader) {
    const auto cpu = torch::TensorOptions().dtype(torch::kFloat32);
    out = {torch::empty({real_numel_}, cpu), torch::empty({real_numel_}, cpu),
           torch::empty({real_numel_}, cpu)};
  }
  const std::map<const void*, int64_t> model_offset = model_offsets(model_);
  for (Unit& unit : units_) {
    const std::array<torch::Tensor, 3> chunks = {my_chunk(unit),
                                                 exp_avg_.narrow(0, unit.offset, unit.chunk),
                                                 exp_avg_sq_.narrow(0, unit.offset, unit.chunk)};
    torch::Tensor* targets[3] = {&out.params, &out.exp_avg, &out.exp_avg_sq};
    for (int k = 0; k < 3; ++k) {
      torch::Tensor whole = torch::empty({padded(unit)}, exp_avg_.options());
      whole.narrow(0, rank * unit.chunk, unit.chunk).copy_(chunks[size_t(k)]);
      if (ranks_ > 1) collectives_.all_gather(whole);
      if (!leader) continue;
      const torch::Tensor host = whole.cpu();
      int64_t in_unit = 0;
      for (const auto& p : unit.params) {
        targets[k]->narrow(0, model_offset.at(p.unsafeGetTensorImpl()), p.numel())
            .copy_(host.narrow(0, in_unit, p.numel()));
        in_unit += p.numel();
      }
    }
  }
  return out;
}

void ShardedState::load_full(const Full& full) {
  torch::NoGradGuard no_grad;
  SWEEP_CHECK(full.params.numel() == real_numel_, "checkpoint size checked before loading");
  const int rank = ranks_ == 1 ? 0 : collectives_.rank;
  const std::map<const void*, int64_t> model_offset = model_offsets(model_);
  for (Unit& unit : units_) {
    const torch::Tensor sources[3] = {full.params, full.exp_avg, full.exp_avg_sq};
    torch::Tensor wholes[3];
    for (int k = 0; k < 3; ++k) {
      wholes[k] = torch::zeros({padded(unit)}, torch::kFloat32);
      int64_t in_unit = 0;
      for (const auto& p : unit.params) {
        wholes[k].narrow(0, in_unit, p.numel())
            .copy_(sources[k].narrow(0, model_offset.at(p.unsafeGetTensorImpl()), p.numel()));
        in_unit += p.numel();
      }
    }
    if (sharding_ == Sharding::kParameters) {
      shard_params_.narrow(0, unit.offset, unit.chunk)
          .copy_(wholes[0].narrow(0, rank * unit.chunk, unit.chunk));
    } else {
      unit.full.copy_(wholes[0]);
    }
    exp_avg_.narrow(0, unit.offset, unit.chunk)
        .copy_(wholes[1].narrow(0, rank * unit.chunk, unit.chunk));
    exp_avg_sq_.narrow(0, unit.offset, unit.chunk)
        .copy_(wholes[2].narrow(0, rank * unit.chunk, unit.chunk));
  }
}

}  // namespace sweep
