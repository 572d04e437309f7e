// Sharded data parallel under real MPI ranks (ctest runs this file under
// `mpirun -np 1`, `-np 2` and `-np 4`): every sharding stage, with and without
// activation checkpointing, follows the curve of one rank training the same
// global batch unsharded; the bytes each rank's state takes (as LibTorch's
// allocator reports them) shrink with the ranks as the memory model says; a
// failing rank ends the run on every rank without a hang; a sharded
// checkpoint resumes on one rank.

#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <filesystem>
#include <memory>

#include "model/allocation_probe.h"
#include "model/counting.h"
#include "model/data.h"
#include "model/gpt.h"
#include "model/memory.h"
#include "model/sharded_state.h"
#include "model/train.h"
#include "mpi_gtest.h"
#include "test_helpers.h"
#include "tiny_model.h"
#include "worker/collectives.h"
#include "worker/comm.h"

namespace sweep {
namespace {

using testing_helpers::world_rank;

// A slot of every rank.
class WorldSlot {
 public:
  WorldSlot() {
    MPI_Comm_rank(MPI_COMM_WORLD, &layout_.world_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &layout_.world_size);
    MPI_Comm_dup(MPI_COMM_WORLD, &layout_.slot_comm);
    layout_.slot = 0;
    layout_.slot_rank = layout_.world_rank;
    layout_.slot_size = layout_.world_size;
  }
  ~WorldSlot() { release_slot_communicators(layout_); }
  Collectives collectives() const { return slot_collectives(layout_); }
  int rank() const { return layout_.slot_rank; }
  int size() const { return layout_.slot_size; }

 private:
  SlotLayout layout_;
};

int world_size() {
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size;
}

// This run's scratch folder: ctest runs the 1-, 2- and 4-rank tests at once.
std::string scratch_dir() {
  return ::testing::TempDir() + "mpi_sharding_test-np" + std::to_string(world_size());
}

// Token data every rank reads (written once by rank 0).
TokenData& shared_data() {
  static std::unique_ptr<TokenData> data;
  if (!data) {
    const std::string dir = scratch_dir();
    if (world_rank() == 0) {
      std::filesystem::create_directories(dir);
      testing_helpers::write_file(dir + "/corpus.txt",
                                  testing_helpers::english_like_text(300000, 5));
    }
    MPI_Barrier(MPI_COMM_WORLD);
    CorpusSpec spec;
    spec.files = {dir + "/corpus.txt"};
    spec.cache_dir = dir + "/cache-" + std::to_string(world_rank());
    data = std::make_unique<TokenData>(prepare_tokens(spec), 1, 32, 0.05);
  }
  return *data;
}

struct Curve {
  std::vector<TrainRecord> train;
  std::vector<EvalRecord> eval;
  RunResult result;
};

Curve train(TrainConfig c, const Collectives& collectives, int rank, int world,
            const std::string& checkpoint = "", std::function<bool()> stop = {}) {
  c.rank = rank;
  c.world = world;
  Curve curve;
  TrainHooks hooks;
  hooks.collectives = collectives;
  hooks.on_train = [&](const TrainRecord& r) { curve.train.push_back(r); };
  hooks.on_eval = [&](const EvalRecord& r) { curve.eval.push_back(r); };
  hooks.checkpoint_path = checkpoint;
  hooks.checkpoint_interval = 1e9;
  hooks.stop_requested = std::move(stop);
  curve.result = train_run(c, shared_data(), hooks);
  return curve;
}

TrainConfig config(int64_t micro_batch_sequences = 0) {
  torch::set_num_threads(1);
  TrainConfig c = testing_helpers::tiny_train_config(/*steps=*/30, /*seed=*/7, /*warmup_steps=*/3);
  c.micro_batch_tokens = micro_batch_sequences * c.model.seq_len;
  return c;
}

void expect_same_curve(const Curve& got, const Curve& want, const std::string& what) {
  ASSERT_EQ(got.result.outcome, RunOutcome::kDone) << what << ": " << got.result.reason;
  ASSERT_EQ(got.train.size(), want.train.size()) << what;
  double worst = 0;
  for (size_t i = 0; i < want.train.size(); ++i)
    worst = std::max(worst, std::fabs(got.train[i].loss - want.train[i].loss));
  // Float sums in another order: ~1e-6 relative, not bitwise.
  EXPECT_LT(worst, 1e-4) << what << ": largest train-loss difference " << worst;
  ASSERT_EQ(got.eval.size(), want.eval.size()) << what;
  EXPECT_NEAR(got.eval.back().loss, want.eval.back().loss, 1e-4) << what;
}

struct Case {
  Sharding sharding;
  bool checkpointing;
  int64_t micro;  // sequences per micro-batch (0: the rank's share)
};

TEST(Sharding, EveryStageFollowsTheOneRankCurve) {
  WorldSlot slot;
  const std::vector<Case> cases = {
      {Sharding::kNone, false, 0},       {Sharding::kOptimizer, false, 0},
      {Sharding::kGradients, false, 0},  {Sharding::kParameters, false, 0},
      {Sharding::kGradients, false, 1},  {Sharding::kParameters, false, 1},
      {Sharding::kNone, true, 0},        {Sharding::kParameters, true, 1},
  };
  for (const Case& k : cases) {
    // The reference: rank 0 alone, unsharded, the whole batch (in the same micro-batches).
    Curve alone;
    if (slot.rank() == 0) alone = train(config(k.micro), {}, 0, 1);
    TrainConfig c = config(k.micro);
    c.sharding = k.sharding;
    c.activation_checkpointing = k.checkpointing;
    const Curve split = train(c, slot.collectives(), slot.rank(), slot.size());
    const std::string what = std::string(to_string(k.sharding)) +
                             (k.checkpointing ? " + checkpointing" : "") + ", micro-batch " +
                             std::to_string(k.micro) + ", " + std::to_string(slot.size()) +
                             " ranks";
    if (slot.rank() == 0) {
      expect_same_curve(split, alone, what);
    } else {
      EXPECT_EQ(split.result.outcome, RunOutcome::kDone) << what;
      EXPECT_TRUE(split.train.empty()) << "only the slot leader reports records";
    }
  }
}

// A model with more parameters than activations, so the state dominates.
ModelConfig wide_model() {
  ModelConfig m = testing_helpers::tiny_gpt();
  m.n_layer = 3;
  m.d_model = 96;
  m.n_head = 4;
  m.d_ff = 384;
  return m;
}

TEST(Sharding, StateBytesShrinkWithTheRanksAsTheModelSays) {
  WorldSlot slot;
  const ModelConfig m = wide_model();
  const double P = double(count_params(m).total);
  const double k = double(slot.size());
  for (Sharding s : {Sharding::kNone, Sharding::kOptimizer, Sharding::kGradients,
                     Sharding::kParameters}) {
    // The model is built under the probe too, so that every allocation and
    // free in between is seen: its own parameters (4P) are freed into the
    // state's buffers.
    AllocationProbe probe;
    torch::manual_seed(1);
    auto model = make_model(m);
    const int64_t before = probe.current_cpu();
    ShardedState state(*model, torch::kCPU, s, slot.collectives(), false);
    const double held = double(probe.current_cpu() - before) + 4 * P;
    // At rest a rank holds the memory model's state less the units in flight.
    MemoryOptions o;
    o.sharding = s;
    o.ranks = slot.size();
    const MemoryEstimate e = estimate_memory(m, o);
    double expected = e.parameters + e.gradients + e.optimizer;
    if (s == Sharding::kGradients) expected = 4 * P + 12 * P / k;
    if (s == Sharding::kParameters) expected = 16 * P / k;
    // Padding to whole chunks adds at most ranks elements per unit and buffer.
    const double slack = 4.0 * 4 * k * double(m.n_layer + 1) + 1024;
    EXPECT_NEAR(held, expected, slack)
        << to_string(s) << " on " << slot.size() << " ranks: allocator " << held
        << " bytes, model " << expected;
    // The moments alone: 8P / k bytes on each rank when sharded.
    const double moments = s == Sharding::kNone ? 8 * P : 8 * P / k;
    EXPECT_NEAR(e.optimizer, moments, 1.0);
  }
}

TEST(Sharding, PeakBytesOfATrainingRunMatchTheModel) {
  WorldSlot slot;
  const ModelConfig m = wide_model();
  for (Sharding s : {Sharding::kNone, Sharding::kOptimizer, Sharding::kGradients,
                     Sharding::kParameters}) {
    for (bool checkpointing : {false, true}) {
      TrainConfig c = config();
      c.model = m;
      c.steps = 6;
      c.eval_interval = 100;
      c.flops_per_token = 6.0 * double(count_params(m).total);
      c.sharding = s;
      c.activation_checkpointing = checkpointing;
      AllocationProbe probe;
      const int64_t before = probe.current_cpu();
      probe.reset_peak();
      train(c, slot.collectives(), slot.rank(), slot.size());
      const double peak = double(probe.peak_cpu() - before);
      MemoryOptions o;
      o.sharding = s;
      o.ranks = slot.size();
      o.micro_batch_sequences = 8 / slot.size();
      o.activation_checkpointing = checkpointing;
      const double model = estimate_memory(m, o).total();
      // Beyond the model: the batches and the eval set's buffers (a few per
      // cent here; docs/cluster.md has the table).
      EXPECT_NEAR(peak / model, 1.0, 0.1)
          << to_string(s) << (checkpointing ? " + checkpointing" : "") << " on " << slot.size()
          << " ranks: allocator peak " << peak << " bytes, model " << model;
      if (world_rank() == 0) {
        std::printf("[ memory ] %-10s %-3s k=%d  allocator peak %9.0f  model %9.0f  ratio %.3f\n",
                    to_string(s), checkpointing ? "ckp" : "", slot.size(), peak, model,
                    peak / model);
      }
    }
  }
}

TEST(Sharding, AFailingRankEndsTheRunOnEveryRank) {
  WorldSlot slot;
  for (Sharding s : {Sharding::kGradients, Sharding::kParameters}) {
    TrainConfig c = config(1);
    c.sharding = s;
    c.fault.kind = FaultInjection::Kind::kThrow;
    c.fault.step = 5;
    if (slot.rank() != slot.size() - 1) c.fault.kind = FaultInjection::Kind::kNone;
    const Curve curve = train(c, slot.collectives(), slot.rank(), slot.size());
    EXPECT_EQ(curve.result.outcome, RunOutcome::kFailed) << to_string(s);
    // Every rank leaves at the same step, at the latest right after the failing one.
    int64_t steps = curve.result.steps_done, fewest = 0, most = 0;
    MPI_Allreduce(&steps, &fewest, 1, MPI_INT64_T, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(&steps, &most, 1, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD);
    EXPECT_EQ(fewest, most) << to_string(s);
    EXPECT_GE(steps, 4) << to_string(s);
    EXPECT_LE(steps, 5) << to_string(s);
    if (slot.rank() == slot.size() - 1) {
      EXPECT_NE(curve.result.reason.find("injected fault"), std::string::npos)
          << curve.result.reason;
    }
  }
}

TEST(Sharding, AShardedCheckpointResumesOnOneRank) {
  WorldSlot slot;
  const std::string path = scratch_dir() + "/resume.pt";
  if (slot.rank() == 0) std::filesystem::remove(path);
  MPI_Barrier(MPI_COMM_WORLD);
  TrainConfig c = config(1);
  c.sharding = Sharding::kParameters;
  // Stopped after 12 steps on every rank (the stop flag is polled each step).
  int polls = 0;
  const Curve first = train(c, slot.collectives(), slot.rank(), slot.size(), path,
                            [&] { return ++polls > 12; });
  EXPECT_EQ(first.result.outcome, RunOutcome::kStopped) << first.result.reason;
  if (slot.rank() == 0) {
    ASSERT_TRUE(std::filesystem::exists(path));
    const Curve reference = train(config(1), {}, 0, 1);
    TrainConfig resumed_config = config(1);  // one rank, unsharded
    const Curve resumed = train(resumed_config, {}, 0, 1, path);
    ASSERT_EQ(resumed.result.outcome, RunOutcome::kDone) << resumed.result.reason;
    EXPECT_EQ(resumed.result.start_step, 12);
    ASSERT_FALSE(resumed.train.empty());
    // The resumed run's last records against the uninterrupted run's.
    const TrainRecord& last = resumed.train.back();
    EXPECT_EQ(last.step, reference.train.back().step);
    EXPECT_NEAR(last.loss, reference.train.back().loss, 1e-4);
    EXPECT_NEAR(resumed.eval.back().loss, reference.eval.back().loss, 1e-4);
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

}  // namespace
}  // namespace sweep

int main(int argc, char** argv) { return sweep::testing_helpers::run_mpi_tests(argc, argv); }
