// The LibTorch GPT and its training loop: counts, initial loss, learning,
// resume, divergence.

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "model/counting.h"
#include "model/data.h"
#include "model/gpt.h"
#include "model/train.h"
#include "test_helpers.h"
#include "tiny_model.h"

namespace sweep {
namespace {

using testing_helpers::tiny_gpt;

class ModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    torch::set_num_threads(1);
    dir_ = ::testing::TempDir() + "model_test_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::create_directories(dir_);
    data_ = testing_helpers::tiny_corpus(dir_, 400000);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  TrainConfig config(int64_t steps) const {
    TrainConfig c = testing_helpers::tiny_train_config(steps, /*seed=*/42, /*warmup_steps=*/5);
    c.threads = 1;
    return c;
  }

  std::string dir_;
  std::unique_ptr<TokenData> data_;
};

int64_t numel(LanguageModel& model) {
  int64_t n = 0;
  for (const auto& p : model.parameters()) n += p.numel();
  return n;
}

TEST_F(ModelTest, ParameterCountEqualsTheCounter) {
  for (bool tied : {true, false}) {
    auto model = std::make_shared<GPT>(tiny_gpt(tied));
    EXPECT_EQ(numel(*model), count_params(tiny_gpt(tied)).total) << "tied=" << tied;
  }
  ModelConfig gpt2;  // GPT-2 small's shape, counted without building 124M parameters twice
  gpt2.vocab_size = 50257;
  auto big = std::make_shared<GPT>(gpt2);
  EXPECT_EQ(numel(*big), 124439808);
}

TEST_F(ModelTest, ParameterNamesFollowNanoGpt) {
  auto model = std::make_shared<GPT>(tiny_gpt(false));
  std::set<std::string> names;
  for (const auto& item : model->named_parameters()) names.insert(item.key());
  for (const char* name : {"wte.weight", "wpe.weight", "h.0.ln_1.weight", "h.0.attn.c_attn.weight",
                           "h.1.attn.c_proj.bias", "h.1.mlp.c_fc.weight", "h.1.mlp.c_proj.weight",
                           "ln_f.bias", "lm_head.weight"}) {
    EXPECT_TRUE(names.count(name)) << name;
  }
}

TEST_F(ModelTest, InitialLossIsNearLnVocab) {
  torch::manual_seed(0);
  auto model = std::make_shared<GPT>(tiny_gpt());
  torch::Tensor x, y;
  data_->train_batch(1, 0, 0, 16, x, y);
  const double loss = model->loss(x, y).item<double>();
  EXPECT_NEAR(loss, std::log(256.0), 0.1) << "initial loss " << loss;
}

TEST_F(ModelTest, OverfitsASingleBatch) {
  torch::manual_seed(0);
  auto model = std::make_shared<GPT>(tiny_gpt());
  torch::optim::AdamW optimizer(model->parameters(),
                                torch::optim::AdamWOptions(3e-3).weight_decay(0));
  torch::Tensor x, y;
  data_->train_batch(1, 0, 0, 4, x, y);
  double loss = 0;
  for (int i = 0; i < 300; ++i) {
    optimizer.zero_grad();
    auto l = model->loss(x, y);
    l.backward();
    optimizer.step();
    loss = l.item<double>();
  }
  EXPECT_LT(loss, 0.2) << "loss after 300 steps on one batch";
}

TEST_F(ModelTest, TrainingLowersValidationLoss) {
  std::vector<EvalRecord> evals;
  TrainHooks hooks;
  hooks.on_eval = [&](const EvalRecord& r) { evals.push_back(r); };
  const RunResult result = train_run(config(200), *data_, hooks);
  ASSERT_EQ(result.outcome, RunOutcome::kDone) << result.reason;
  ASSERT_GE(evals.size(), 2u);
  EXPECT_EQ(evals.front().step, 0);
  EXPECT_EQ(evals.back().step, 200);
  EXPECT_LT(evals.back().loss, evals.front().loss - 2.0)
      << "from " << evals.front().loss << " to " << evals.back().loss;
  EXPECT_EQ(result.final_eval_loss, evals.back().loss);
}

TEST_F(ModelTest, ResumedRunFollowsTheUninterruptedCurveBitwise) {
  const TrainConfig c = config(60);
  std::vector<TrainRecord> straight;
  TrainHooks plain;
  plain.on_train = [&](const TrainRecord& r) { straight.push_back(r); };
  ASSERT_EQ(train_run(c, *data_, plain).outcome, RunOutcome::kDone);

  std::vector<TrainRecord> pieces;
  TrainHooks first;
  first.checkpoint_path = dir_ + "/run.ckpt";
  first.on_train = [&](const TrainRecord& r) { pieces.push_back(r); };
  first.stop_requested = [&] { return pieces.size() >= 25; };
  const RunResult stopped = train_run(c, *data_, first);
  ASSERT_EQ(stopped.outcome, RunOutcome::kStopped);
  ASSERT_TRUE(std::filesystem::exists(first.checkpoint_path));

  // What a store does before resuming: keep the checkpoint's curve.
  const CheckpointCurves saved = read_checkpoint_curves(first.checkpoint_path);
  const size_t replayed = saved.train.size();
  pieces.resize(replayed);
  TrainHooks second = first;
  second.stop_requested = nullptr;
  const RunResult resumed = train_run(c, *data_, second);
  ASSERT_EQ(resumed.outcome, RunOutcome::kDone);
  EXPECT_GT(resumed.start_step, 0);
  EXPECT_EQ(replayed, 25u);
  EXPECT_FALSE(std::filesystem::exists(first.checkpoint_path))
      << "finished runs drop their checkpoint";
  ASSERT_EQ(pieces.size(), straight.size());
  for (size_t i = 0; i < straight.size(); ++i) {
    EXPECT_EQ(pieces[i].step, straight[i].step);
    EXPECT_EQ(pieces[i].loss, straight[i].loss) << "step " << straight[i].step;  // bitwise
    EXPECT_EQ(pieces[i].grad_norm, straight[i].grad_norm) << "step " << straight[i].step;
  }
}

TEST_F(ModelTest, DivergingLearningRateIsCaughtAndRecorded) {
  TrainConfig c = config(100);
  c.lr = 50.0;
  c.grad_clip = 0;
  const RunResult result = train_run(c, *data_, {});
  EXPECT_EQ(result.outcome, RunOutcome::kDiverged);
  EXPECT_LT(result.steps_done, 100);
  EXPECT_NE(result.reason.find("at step"), std::string::npos) << result.reason;
}

TEST(Schedule, WarmupCosineAndTheFloorAtTheLastStep) {
  TrainConfig c;
  c.lr = 1.0;
  c.min_lr_ratio = 0.1;
  c.steps = 111;  // steps 0..110; the cosine runs over steps 10..110
  c.warmup_steps = 10;
  EXPECT_DOUBLE_EQ(lr_at(c, 0), 0.1);
  EXPECT_DOUBLE_EQ(lr_at(c, 9), 1.0);
  EXPECT_DOUBLE_EQ(lr_at(c, 10), 1.0);
  EXPECT_NEAR(lr_at(c, 60), 0.55, 1e-12);  // halfway down the cosine
  // The last step the loop runs is steps - 1: it trains at the floor.
  EXPECT_NEAR(lr_at(c, c.steps - 1), 0.1, 1e-12);
  EXPECT_GT(lr_at(c, c.steps - 2), 0.1);
}

}  // namespace
}  // namespace sweep
