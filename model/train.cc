#include "model/train.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/autocast_mode.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <optional>
#include <tuple>

#include "common/check.h"
#include "common/error.h"
#include "model/language_model.h"
#include "model/sharded_state.h"
#include "model/torch_version.h"

namespace sweep {
namespace {

using Clock = std::chrono::steady_clock;

// bf16 autocast for CUDA forward passes; a no-op on CPU.
class AutocastGuard {
 public:
  explicit AutocastGuard(const torch::Device& device) : enabled_(device.is_cuda()) {
    if (!enabled_) return;
#if SWEEP_TORCH_AT_LEAST(2, 4)
    at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
    at::autocast::set_autocast_enabled(at::kCUDA, true);
#else
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    at::autocast::set_enabled(true);
#endif
  }
  ~AutocastGuard() {
    if (!enabled_) return;
#if SWEEP_TORCH_AT_LEAST(2, 4)
    at::autocast::set_autocast_enabled(at::kCUDA, false);
#else
    at::autocast::set_enabled(false);
#endif
    at::autocast::clear_cache();
  }

 private:
  bool enabled_;
};

torch::Tensor records_tensor(const std::vector<TrainRecord>& rows) {
  auto t = torch::empty({int64_t(rows.size()), 7}, torch::kFloat64);
  auto a = t.accessor<double, 2>();
  for (size_t i = 0; i < rows.size(); ++i) {
    const TrainRecord& r = rows[i];
    const double v[7] = {double(r.step), double(r.tokens), r.flops,    r.loss,
                         r.lr,           r.grad_norm,      r.wall_time};
    for (int j = 0; j < 7; ++j) a[int64_t(i)][j] = v[j];
  }
  return t;
}

torch::Tensor records_tensor(const std::vector<EvalRecord>& rows) {
  auto t = torch::empty({int64_t(rows.size()), 5}, torch::kFloat64);
  auto a = t.accessor<double, 2>();
  for (size_t i = 0; i < rows.size(); ++i) {
    const EvalRecord& r = rows[i];
    const double v[5] = {double(r.step), double(r.tokens), r.flops, r.loss, r.wall_time};
    for (int j = 0; j < 5; ++j) a[int64_t(i)][j] = v[j];
  }
  return t;
}

struct Checkpoint : CheckpointCurves {
  double wall_time = 0;
};

// Format 2: parameters and moments in model order (model->parameters(),
// unpadded), whatever the layout and sharding they were trained with, so a
// run resumes on a slot of any size. (Format 1 kept the decayed tensors
// first.)
void save_checkpoint(const std::string& path, const ShardedState::Full& state,
                     const Checkpoint& meta) {
  torch::serialize::OutputArchive archive;
  archive.write("format", torch::tensor({int64_t(2)}));
  archive.write("step", torch::tensor({meta.step}));
  archive.write("wall_time", torch::tensor({meta.wall_time}, torch::kFloat64));
  archive.write("params", state.params);
  archive.write("exp_avg", state.exp_avg);
  archive.write("exp_avg_sq", state.exp_avg_sq);
  archive.write("train", records_tensor(meta.train));
  archive.write("eval", records_tensor(meta.eval));
  archive.write("cpu_rng", at::detail::getDefaultCPUGenerator().get_state());
  const std::string temporary = path + ".tmp";
  archive.save_to(temporary);
  std::filesystem::rename(temporary, path);  // atomic: a kill leaves the old or the new one
}

torch::Tensor read_tensor(torch::serialize::InputArchive& archive, const char* key) {
  torch::Tensor t;
  archive.read(key, t);
  return t;
}

Checkpoint read_meta(torch::serialize::InputArchive& archive) {
  Checkpoint meta;
  meta.step = read_tensor(archive, "step").item<int64_t>();
  meta.wall_time = read_tensor(archive, "wall_time").item<double>();
  const torch::Tensor train = read_tensor(archive, "train"), eval = read_tensor(archive, "eval");
  auto t = train.accessor<double, 2>();
  for (int64_t i = 0; i < train.size(0); ++i) {
    meta.train.push_back(
        {int64_t(t[i][0]), int64_t(t[i][1]), t[i][2], t[i][3], t[i][4], t[i][5], t[i][6]});
  }
  auto e = eval.accessor<double, 2>();
  for (int64_t i = 0; i < eval.size(0); ++i) {
    meta.eval.push_back({int64_t(e[i][0]), int64_t(e[i][1]), e[i][2], e[i][3], e[i][4]});
  }
  return meta;
}

// A format-1 buffer (tensors with two or more dimensions first, each group
// in model order) in model order.
torch::Tensor model_order(const torch::Tensor& format1, LanguageModel& model) {
  torch::Tensor out = torch::empty_like(format1);
  std::vector<std::pair<int64_t, int64_t>> spans;  // (model offset, numel) in format-1 order
  int64_t at = 0;
  std::vector<std::pair<int64_t, int64_t>> matrices, vectors;
  for (const auto& p : model.parameters()) {
    (p.dim() >= 2 ? matrices : vectors).push_back({at, p.numel()});
    at += p.numel();
  }
  int64_t from = 0;
  for (const auto* group : {&matrices, &vectors}) {
    for (const auto& [offset, n] : *group) {
      out.narrow(0, offset, n).copy_(format1.narrow(0, from, n));
      from += n;
    }
  }
  return out;
}

Checkpoint load_checkpoint(const std::string& path, ShardedState& state, LanguageModel& model) {
  torch::serialize::InputArchive archive;
  archive.load_from(path);
  auto read = [&](const char* key) { return read_tensor(archive, key); };
  const int64_t format = read("format").item<int64_t>();
  if (format != 1 && format != 2)
    throw std::runtime_error(path + ": checkpoint format " + std::to_string(format) + " unknown");
  ShardedState::Full full{read("params"), read("exp_avg"), read("exp_avg_sq")};
  if (full.params.numel() != state.numel()) {
    throw std::runtime_error(path + ": checkpoint holds " + std::to_string(full.params.numel()) +
                             " parameters, the run's model " + std::to_string(state.numel()));
  }
  if (format == 1) {
    for (torch::Tensor* t : {&full.params, &full.exp_avg, &full.exp_avg_sq})
      *t = model_order(*t, model);
  }
  state.load_full(full);
  at::Generator cpu_generator = at::detail::getDefaultCPUGenerator();  // a handle to the global one
  cpu_generator.set_state(read("cpu_rng"));
  return read_meta(archive);
}

}  // namespace

CheckpointCurves read_checkpoint_curves(const std::string& path) {
  torch::serialize::InputArchive archive;
  archive.load_from(path);
  return read_meta(archive);
}

torch::Tensor FaultInjection::inject(const torch::Tensor& loss, int64_t completing_step,
                                     int rank) const {
  const std::string where =
      "at step " + std::to_string(completing_step) + " on rank " + std::to_string(rank);
  switch (kind) {
    case Kind::kThrow:
      throw std::runtime_error("injected fault (SWEEP_FAULT): throw " + where);
    case Kind::kNan:
      return loss * std::numeric_limits<double>::quiet_NaN();
    case Kind::kExit:
      std::fprintf(stderr, "injected fault (SWEEP_FAULT): process exits %s\n", where.c_str());
      std::fflush(stderr);
      std::_Exit(kExitFailure);
    case Kind::kNone:
      break;
  }
  return loss;
}

double lr_at(const TrainConfig& c, int64_t step) {
  // 1) linear warmup
  if (step < c.warmup_steps) return c.lr * double(step + 1) / double(c.warmup_steps);
  // 2) cosine from peak to the floor over the rest of this run
  const double min_lr = c.min_lr_ratio * c.lr;
  const int64_t decay_steps = std::max<int64_t>(1, c.steps - 1 - c.warmup_steps);
  const double progress = std::min(1.0, double(step - c.warmup_steps) / double(decay_steps));
  // 3) the floor, reached by the run's last step (step = steps - 1)
  return min_lr + 0.5 * (1.0 + std::cos(M_PI * progress)) * (c.lr - min_lr);
}

namespace {

// A rank whose work throws must not leave its peers waiting in a collective it
// will never join. It keeps calling the loop's collectives in the same order,
// doing no work, with a flag set; the flag travels in the last element of the
// small reductions (the per-step control, the logged loss, the validation
// sums), and every rank of the slot leaves the run at the first of them that
// carries it. The gradient all-reduce carries no flag: a failing rank joins it
// with stale gradients, and the next small reduction (at the latest the next
// step's control) ends the run before anything computed from them is used.
class SlotFailure {
 public:
  explicit SlotFailure(std::function<void(torch::Tensor&)> all_reduce, int rank)
      : all_reduce_(std::move(all_reduce)), rank_(rank) {}

  // Runs `work` unless this rank has failed; an exception becomes the flag.
  // FatalError (a broken library call, common/check.h) is not one run's
  // failure and goes through.
  template <typename F>
  void guard(F&& work) {
    if (failed_here_) return;
    try {
      work();
    } catch (const FatalError&) {
      throw;
    } catch (const c10::OutOfMemoryError& e) {
      fail(std::string("out of memory: ") + e.what_without_backtrace());
    } catch (const c10::Error& e) {
      fail(e.what_without_backtrace());
    } catch (const std::exception& e) {
      fail(e.what());
    }
  }

  // Sums `values` over the slot with this rank's flag as an extra last element;
  // `values` becomes the sum, on the host. True when any rank has failed.
  bool sum(torch::Tensor& values) {
    if (!all_reduce_) {  // one rank: nothing to agree on, nothing to allocate
      any_failed_ = failed_here_;
      return any_failed_;
    }
    // On the host for every rank alike (MPI, even in an NCCL slot): a failed
    // rank's device may be what failed.
    torch::Tensor flagged =
        torch::cat({values.reshape({-1}).to(torch::kCPU, torch::kFloat32),
                    torch::full({1}, failed_here_ ? 1.0f : 0.0f, torch::kFloat32)});
    all_reduce_(flagged);
    values = flagged.narrow(0, 0, values.numel()).reshape(values.sizes());
    any_failed_ = flagged[-1].item<float>() > 0;
    return any_failed_;
  }

  bool failed_here() const { return failed_here_; }
  bool any_failed() const { return any_failed_; }
  const std::string& reason() const { return reason_; }

 private:
  void fail(std::string reason) {
    std::replace(reason.begin(), reason.end(), '\n', ' ');
    failed_here_ = true;
    reason_ = "rank " + std::to_string(rank_) + " of the slot: " + reason;
  }

  std::function<void(torch::Tensor&)> all_reduce_;
  int rank_;
  bool failed_here_ = false, any_failed_ = false;
  std::string reason_;
};

}  // namespace

RunResult train_run(const TrainConfig& c, const TokenData& data, const TrainHooks& hooks) {
  const torch::Device device(c.device);
  const int64_t seq_len = c.model.seq_len;
  const int64_t batch_sequences = c.batch_tokens / seq_len;
  const int64_t rank_sequences = batch_sequences / c.world;  // this rank's share of a step
  const int64_t micro_sequences =
      micro_batch_sequences(c.batch_tokens, c.micro_batch_tokens, seq_len, c.world);
  const int64_t accumulation = rank_sequences / micro_sequences;
  const int64_t first_sequence = int64_t(c.rank) * rank_sequences;
  const bool leader = c.rank == 0;

  RunResult result;
  SlotFailure failure(hooks.collectives.all_reduce_sum, c.rank);
  std::shared_ptr<LanguageModel> model;
  std::optional<ShardedState> state;
  Checkpoint progress;
  // Invariants the job's validation guarantees: fatal (common/check.h), and
  // the same on every rank of the slot.
  SWEEP_CHECK(data.seq_len() == seq_len, "token data and model disagree on seq_len");
  SWEEP_CHECK(batch_sequences % c.world == 0, "batch must split evenly over the slot's ranks");
  SWEEP_CHECK(rank_sequences % micro_sequences == 0, "micro-batches must divide the rank's share");
  // Setup can fail (a bad checkpoint, out of memory): the first control
  // reduction below then ends the run on every rank.
  failure.guard([&] {
    if (c.threads > 0) torch::set_num_threads(c.threads);
    torch::manual_seed(c.seed);
    model = make_model(c.model);
    model->to(device);
    model->set_loss_weight(1.0 / double(accumulation));
    state.emplace(*model, device, c.sharding, hooks.collectives, c.activation_checkpointing);
    if (!hooks.checkpoint_path.empty()) {
      const std::filesystem::path parent =
          std::filesystem::path(hooks.checkpoint_path).parent_path();
      if (!parent.empty()) std::filesystem::create_directories(parent);
      if (std::filesystem::exists(hooks.checkpoint_path))
        progress = load_checkpoint(hooks.checkpoint_path, *state, *model);
    }
  });

  const auto session_start = Clock::now();
  auto wall_time = [&] {
    return progress.wall_time + std::chrono::duration<double>(Clock::now() - session_start).count();
  };
  auto last_checkpoint = Clock::now();
  auto checkpoint = [&](int64_t step) {
    if (hooks.checkpoint_path.empty()) return;
    // Sharded: every rank's shards are gathered to the leader, which writes.
    if (leader || state->sharded()) {
      failure.guard([&] {
        const ShardedState::Full full = state->gather_full();
        if (!leader) return;
        Checkpoint meta = progress;
        meta.step = step;
        meta.wall_time = wall_time();
        save_checkpoint(hooks.checkpoint_path, full, meta);
      });
    }
    last_checkpoint = Clock::now();
  };

  // Mean validation loss over the fixed validation set (split over the slot);
  // nullopt when a rank of the slot has failed.
  const int64_t eval_sequences = std::max<int64_t>(1, c.eval_tokens / seq_len);
  auto evaluate = [&]() -> std::optional<double> {
    torch::Tensor sums = torch::zeros({2});  // loss x sequences, sequences
    // Every rank makes as many forward passes as the first (sharded
    // parameters are gathered in each); a rank whose share ends sooner makes
    // only their collectives (finish_phase).
    const int64_t share = (eval_sequences + c.world - 1) / c.world;
    const int64_t forwards = (share + micro_sequences - 1) / micro_sequences;
    if (state) state->begin_eval(forwards);
    failure.guard([&] {
      torch::Tensor on_device =
          torch::zeros({2}, torch::TensorOptions().dtype(torch::kFloat32).device(device));
      torch::NoGradGuard no_grad;
      AutocastGuard autocast(device);
      model->eval();
      const int64_t begin = std::min(eval_sequences, int64_t(c.rank) * share);
      const int64_t end = std::min(eval_sequences, begin + share);
      for (int64_t first = begin; first < end; first += micro_sequences) {
        const int64_t n = std::min(micro_sequences, end - first);
        torch::Tensor x, y;
        data.validation_batch(eval_sequences, first, n, x, y);
        state->begin_forward(/*training=*/false);
        const torch::Tensor loss = model->loss(x.to(device), y.to(device));
        state->end_forward();
        on_device[0] += loss.detach().to(torch::kFloat32) * double(n);
        on_device[1] += double(n);
      }
      model->train();
      sums = on_device.cpu();
    });
    if (state) state->finish_phase(failure.failed_here());
    if (failure.sum(sums)) return std::nullopt;
    return (sums[0] / sums[1]).item<double>();
  };

  const double loss_limit = c.divergence_factor * std::log(double(c.model.vocab_size));
  int64_t step = progress.step;
  result.start_step = step;
  auto tokens_after = [&](int64_t s) { return s * c.batch_tokens; };
  auto record_eval = [&](int64_t s) -> bool {
    const std::optional<double> loss = evaluate();
    if (!loss) return false;
    result.final_eval_loss = *loss;
    EvalRecord r{s, tokens_after(s), c.flops_per_token * double(tokens_after(s)), *loss,
                 wall_time()};
    if (leader) {
      progress.eval.push_back(r);
      if (hooks.on_eval) hooks.on_eval(r);
    }
    return true;
  };

  bool evaluated_start = step > 0;
  torch::Tensor grad_norm;
  while (true) {
    // 1) The per-step control reduction (on the host): has any rank failed
    //    (in setup, the last step's checkpoint or evaluation) or been asked to stop?
    torch::Tensor control = torch::zeros({1});
    if (hooks.stop_requested && hooks.stop_requested()) control[0] = 1.0;
    if (failure.sum(control)) break;
    if (!evaluated_start) {
      if (!record_eval(0)) break;
      evaluated_start = true;
    }
    if (step >= c.steps) break;
    // A periodic checkpoint only here, after the control reduction has shown
    // that no rank failed during the last step (a state a failed rank's stale
    // gradients reached must never be saved).
    if (step > result.start_step &&
        std::chrono::duration<double>(Clock::now() - last_checkpoint).count() >=
            hooks.checkpoint_interval) {
      checkpoint(step);
    }
    if (control[0].item<float>() > 0) {
      checkpoint(step);
      torch::Tensor saved = torch::zeros({1});
      if (failure.sum(saved)) break;  // the leader's checkpoint failed: every rank says so
      result.outcome = RunOutcome::kStopped;
      result.reason = "stopped at step " + std::to_string(step) + " (checkpointed)";
      break;
    }
    // 2) Forward and backward over this rank's micro-batches (sharded
    //    stages reduce-scatter gradients during backward), then the
    //    gradients summed over the slot: every rank makes the collectives,
    //    a failed one too.
    const double lr = lr_at(c, step);
    torch::Tensor loss_sum;
    state->begin_step(accumulation);
    failure.guard([&] {
      loss_sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat32).device(device));
      AutocastGuard autocast(device);
      for (int64_t micro = 0; micro < accumulation; ++micro) {
        torch::Tensor x, y;
        data.train_batch(c.seed, step, first_sequence + micro * micro_sequences, micro_sequences, x,
                         y);
        state->begin_forward(/*training=*/true);
        torch::Tensor loss =
            model->loss(x.to(device, /*non_blocking=*/true), y.to(device, true));
        if (c.fault.fires(step + 1)) loss = c.fault.inject(loss, step + 1, c.rank);
        (loss / double(accumulation)).backward();
        state->end_backward();
        loss_sum += loss.detach().to(torch::kFloat32);
      }
    });
    state->finish_phase(failure.failed_here());
    state->reduce_gradients();
    // 3) The gradient norm (a sharded slot's is the sum of its shards',
    //    reduced with the failure flag), clip, step, and the updated
    //    parameters gathered (stages 1-2).
    torch::Tensor norm_sq;
    if (state->sharded()) {
      torch::Tensor host = torch::zeros({1});
      failure.guard([&] { host = state->local_grad_norm_sq().cpu(); });
      if (failure.sum(host)) break;
      norm_sq = host.to(device);
    }
    failure.guard([&] {
      if (!norm_sq.defined()) norm_sq = state->local_grad_norm_sq();
      grad_norm = norm_sq.sqrt().reshape({});
      if (c.grad_clip > 0)
        state->scale_gradients(torch::clamp_max(c.grad_clip / (grad_norm + 1e-6), 1.0));
      state->adamw_step(step + 1, {lr, c.weight_decay, c.beta1, c.beta2, c.eps});
    });
    state->gather_parameters();
    ++step;

    // 4) Records: the slot's mean train loss, divergence, evaluation.
    const bool log_now = step == 1 || step % c.log_interval == 0 || step == c.steps;
    const bool eval_now = step % c.eval_interval == 0 || step == c.steps;
    if (log_now || eval_now) {
      torch::Tensor mean_loss = torch::zeros({1});
      failure.guard([&] { mean_loss = (loss_sum / double(accumulation)).reshape({1}).cpu(); });
      if (failure.sum(mean_loss)) break;
      const double last_loss = mean_loss.item<double>() / double(c.world);
      const double norm = grad_norm.item<double>();
      result.final_train_loss = last_loss;
      TrainRecord r{
          step, tokens_after(step), c.flops_per_token * double(tokens_after(step)), last_loss, lr,
          norm, wall_time()};
      if (leader) {
        progress.train.push_back(r);
        if (hooks.on_train) hooks.on_train(r);
      }
      const bool blown_up = step > c.warmup_steps && last_loss > loss_limit;
      if (!std::isfinite(last_loss) || !std::isfinite(norm) || blown_up) {
        result.outcome = RunOutcome::kDiverged;
        char reason[160];
        std::snprintf(reason, sizeof(reason), "%s at step %lld (train loss %.4g, grad norm %.4g)",
                      blown_up ? "loss blew up" : "non-finite loss or gradient", (long long)step,
                      last_loss, norm);
        result.reason = reason;
        break;
      }
    }
    if (eval_now && !record_eval(step)) break;
  }
  result.steps_done = step;
  result.wall_time = wall_time();
  if (failure.any_failed() || failure.failed_here()) {
    // No checkpoint is written now: the state may be half-updated. The next
    // attempt continues from the last periodic checkpoint.
    result.outcome = RunOutcome::kFailed;
    result.reason = failure.failed_here() ? failure.reason() : kPeerFailed;
    return result;
  }
  const double session_seconds =
      std::chrono::duration<double>(Clock::now() - session_start).count();
  if (session_seconds > 0) {
    result.tokens_per_second =
        double((step - result.start_step) * c.batch_tokens) / session_seconds;
  }
  if (result.outcome != RunOutcome::kStopped && leader && !hooks.checkpoint_path.empty()) {
    std::error_code ignored;
    std::filesystem::remove(hooks.checkpoint_path, ignored);  // finished: nothing to resume
  }
  return result;
}

}  // namespace sweep
