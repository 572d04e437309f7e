// The model families (llama, moe, lstm; gpt2 in test_model.cc): each built
// model's parameters equal its counter, the mixture of experts routes as
// its definition says and its load-balancing gradient reaches the router
// under activation checkpointing, and every family trains with train_run
// (sharded and checkpointed or not) and resumes on the same curve.

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <set>
#include <tuple>

#include "model/allocation_probe.h"
#include "model/counting.h"
#include "model/data.h"
#include "model/language_model.h"
#include "model/llama.h"
#include "model/lstm.h"
#include "model/memory.h"
#include "model/moe.h"
#include "model/recompute.h"
#include "model/sharded_state.h"
#include "model/train.h"
#include "test_helpers.h"
#include "tiny_model.h"

namespace sweep {
namespace {

ModelConfig tiny(Family family, bool tied = false) {
  ModelConfig c = testing_helpers::tiny_gpt(tied);  // 2 layers of 32, bytes, 32 tokens
  c.family = family;
  if (family == Family::kLlama || family == Family::kMoe) {
    c.d_ff = 96;  // 8/3 of 32, rounded up to a multiple of 32
    c.n_kv_head = 2;
  }
  if (family == Family::kMoe) {
    c.d_ff = 48;
    c.n_experts = 4;
    c.top_k = 2;
  }
  if (family == Family::kLstm) c.d_ff = 0;
  return c;
}

int64_t numel(torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters()) n += p.numel();
  return n;
}

std::set<std::string> names(torch::nn::Module& module) {
  std::set<std::string> out;
  for (const auto& item : module.named_parameters()) out.insert(item.key());
  return out;
}

class Families : public ::testing::Test {
 protected:
  void SetUp() override { torch::set_num_threads(1); }
};

TEST_F(Families, EveryBuiltModelHasTheCountersParameters) {
  std::vector<ModelConfig> configs;
  for (const bool tied : {true, false}) {
    for (const int64_t kv : {0, 4, 2, 1}) {  // multi-head, and grouped down to one kv head
      ModelConfig c = tiny(Family::kLlama, tied);
      c.n_kv_head = kv;
      configs.push_back(c);
    }
    for (const int64_t shared : {0, 1, 2}) {
      for (const int64_t top_k : {1, 2}) {
        ModelConfig c = tiny(Family::kMoe, tied);
        c.n_shared_experts = shared;
        c.top_k = top_k;
        configs.push_back(c);
      }
    }
    for (const int64_t layers : {1, 3}) {
      ModelConfig c = tiny(Family::kLstm, tied);
      c.n_layer = layers;
      c.d_model = 24;
      configs.push_back(c);
    }
  }
  ModelConfig wide = tiny(Family::kLlama);  // a wider shape: 3 x 64, 8 heads of 8, 2 kv heads
  wide.n_layer = 3;
  wide.d_model = 64;
  wide.n_head = 8;
  wide.d_ff = 176;
  wide.vocab_size = 1000;
  configs.push_back(wide);
  for (const ModelConfig& c : configs) {
    torch::manual_seed(0);
    const auto model = make_model(c);
    const ParamCount count = count_params(c);
    const std::string what =
        std::string(to_string(c.family)) + " tied=" + std::to_string(c.tie_embeddings) +
        " kv=" + std::to_string(c.n_kv_head) + " shared=" + std::to_string(c.n_shared_experts) +
        " top_k=" + std::to_string(c.top_k) + " layers=" + std::to_string(c.n_layer);
    EXPECT_EQ(numel(*model), count.total) << what;
    ASSERT_EQ(int64_t(model->blocks().size()), c.n_layer) << what;
    EXPECT_EQ(numel(*model->blocks()[0]), params_per_block(c)) << what;
    if (c.family == Family::kMoe) {
      EXPECT_LT(count.active, count.total) << what;
      // The experts a token does not use: (E - top_k) SwiGLUs per layer.
      EXPECT_EQ(count.total - count.active,
                c.n_layer * (c.n_experts - c.top_k) * 3 * c.d_model * c.d_ff)
          << what;
    } else {
      EXPECT_EQ(count.active, count.total) << what;
      EXPECT_EQ(count.active_non_embedding, count.non_embedding) << what;
    }
    EXPECT_EQ(count.non_embedding, count.total - count.token_embedding - count.lm_head) << what;
  }
}

TEST_F(Families, ParameterNamesFollowNanoGpt) {
  const std::pair<Family, std::vector<const char*>> expected[] = {
      {Family::kLlama,
       {"wte.weight", "h.0.ln_1.weight", "h.0.attn.c_attn.weight", "h.0.attn.c_proj.weight",
        "h.1.ln_2.weight", "h.1.mlp.c_fc.weight", "h.1.mlp.c_fc2.weight", "h.1.mlp.c_proj.weight",
        "ln_f.weight", "lm_head.weight"}},
      {Family::kMoe,
       {"wte.weight", "h.0.attn.c_attn.weight", "h.0.mlp.router.weight", "h.0.mlp.experts.c_fc",
        "h.0.mlp.experts.c_fc2", "h.1.mlp.experts.c_proj", "ln_f.weight", "lm_head.weight"}},
      {Family::kLstm,
       {"wte.weight", "h.0.weight_ih", "h.0.weight_hh", "h.1.bias_ih", "h.1.bias_hh", "ln_f.weight",
        "ln_f.bias", "lm_head.weight"}},
  };
  for (const auto& [family, wanted] : expected) {
    const auto model = make_model(tiny(family, /*tied=*/false));
    const std::set<std::string> have = names(*model);
    for (const char* name : wanted)
      EXPECT_TRUE(have.count(name)) << to_string(family) << ": " << name;
    // No biases in the llama block (Llama has none); the LSTM's are its gates'.
    if (family != Family::kLstm) {
      for (const auto& name : have) EXPECT_EQ(name.find(".bias"), std::string::npos) << name;
    }
  }
  const auto tied = make_model(tiny(Family::kLlama, /*tied=*/true));
  EXPECT_FALSE(names(*tied).count("lm_head.weight"));
}

TEST_F(Families, InitialLossIsNearLnVocab) {
  for (const Family family : {Family::kLlama, Family::kMoe, Family::kLstm}) {
    for (const bool tied : {true, false}) {
      torch::manual_seed(0);
      const auto model = make_model(tiny(family, tied));
      const torch::Tensor x = torch::randint(256, {4, 32}, torch::kInt64);
      const torch::Tensor y = torch::randint(256, {4, 32}, torch::kInt64);
      const torch::Tensor logits = model->forward(x);
      EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{4, 32, 256}));
      const double loss = model->loss(x, y).item<double>();
      EXPECT_NEAR(loss, std::log(256.0), 0.15) << to_string(family) << " tied=" << tied;
    }
  }
}

// Attention is causal: the logits at position t do not depend on tokens after t.
TEST_F(Families, LaterTokensDoNotChangeEarlierLogits) {
  for (const Family family : {Family::kLlama, Family::kMoe, Family::kLstm}) {
    torch::manual_seed(1);
    ModelConfig c = tiny(family);
    c.capacity_factor = 0;  // capacity drops depend on the whole batch by design
    const auto model = make_model(c);
    torch::NoGradGuard no_grad;
    torch::Tensor x = torch::randint(256, {1, 32}, torch::kInt64);
    const torch::Tensor before = model->forward(x);
    x.narrow(1, 20, 12).random_(256);
    const torch::Tensor after = model->forward(x);
    const double change =
        (before.narrow(1, 0, 20) - after.narrow(1, 0, 20)).abs().max().item<double>();
    EXPECT_LT(change, 1e-5) << to_string(family);
    EXPECT_GT((before.narrow(1, 20, 12) - after.narrow(1, 20, 12)).abs().max().item<double>(), 1e-4)
        << to_string(family);
  }
}

// Rotary embeddings make a query-key product depend on the positions'
// difference alone (Su et al. 2021), and leave position 0 unrotated.
TEST_F(Families, RotaryScoresDependOnRelativePositionOnly) {
  const int64_t head_dim = 16;
  RotaryTable table(/*seq_len=*/64, head_dim, /*theta=*/10000);
  const auto [cos, sin] = table.get(64, torch::kCPU);
  ASSERT_EQ(cos.sizes(), (std::vector<int64_t>{64, head_dim / 2}));
  EXPECT_NEAR(cos[5][1].item<double>(), std::cos(5 * std::pow(10000.0, -2.0 / 16)), 1e-6);
  torch::manual_seed(8);
  // The same query and key vector at every position: (1, 1, T, hd).
  const torch::Tensor q = torch::randn({head_dim}).expand({1, 1, 64, head_dim});
  const torch::Tensor k = torch::randn({head_dim}).expand({1, 1, 64, head_dim});
  const torch::Tensor rq = apply_rotary(q, cos, sin)[0][0], rk = apply_rotary(k, cos, sin)[0][0];
  const torch::Tensor scores = rq.mm(rk.t());  // (T, T): query position m, key position n
  for (const auto& [m, n, shift] :
       std::vector<std::tuple<int, int, int>>{{10, 3, 7}, {40, 40, 9}, {5, 20, 30}}) {
    EXPECT_NEAR(scores[m][n].item<double>(), scores[m + shift][n + shift].item<double>(), 1e-4)
        << m << ", " << n << " shifted by " << shift;
  }
  EXPECT_GT((scores[10][3] - scores[10][4]).abs().item<double>(), 1e-4) << "the offset matters";
  EXPECT_LT((rq[0] - q[0][0][0]).abs().max().item<double>(), 1e-7);
}

// The reference: each token through its top_k experts one at a time,
// weighted by the softmax over the chosen logits, dropping the choices past
// each expert's capacity in token order.
torch::Tensor moe_reference(MoEImpl& moe, const torch::Tensor& input, int64_t top_k,
                            int64_t capacity) {
  const torch::Tensor x = input.reshape({-1, input.size(-1)});
  const torch::Tensor logits = moe.router(x);
  std::vector<int64_t> taken(size_t(moe.experts->c_fc.size(0)), 0);
  torch::Tensor y = torch::zeros_like(x);
  for (int64_t n = 0; n < x.size(0); ++n) {
    auto [top, expert] = logits[n].topk(top_k);
    const torch::Tensor gates = top.softmax(0);
    for (int64_t j = 0; j < top_k; ++j) {
      const int64_t e = expert[j].item<int64_t>();
      if (capacity > 0 && taken[size_t(e)]++ >= capacity) continue;
      const torch::Tensor xe = x[n].unsqueeze(0);
      const torch::Tensor h =
          torch::silu(xe.mm(moe.experts->c_fc[e])) * xe.mm(moe.experts->c_fc2[e]);
      y[n] += gates[j] * h.mm(moe.experts->c_proj[e])[0];
    }
  }
  if (moe.shared_experts) y += moe.shared_experts(x);
  return y.view(input.sizes());
}

TEST_F(Families, MixtureOfExpertsRoutesAsTheDefinitionSays) {
  for (const double capacity_factor : {0.0, 0.5}) {
    for (const int64_t shared : {0, 1}) {
      torch::manual_seed(2);
      ModelConfig c = tiny(Family::kMoe);
      c.capacity_factor = capacity_factor;
      c.n_shared_experts = shared;
      MoE moe(c, nullptr);
      torch::NoGradGuard no_grad;
      const torch::Tensor x = torch::randn({3, 10, c.d_model});
      const int64_t capacity =
          capacity_factor > 0 ? int64_t(std::ceil(capacity_factor * 30 * c.top_k / c.n_experts))
                              : 0;
      const torch::Tensor difference = (moe(x) - moe_reference(*moe, x, c.top_k, capacity)).abs();
      EXPECT_LT(difference.max().item<double>(), 1e-5)
          << "capacity_factor " << capacity_factor << " shared " << shared;
    }
  }
  // Half the needed capacity drops choices: the output is not the dropless one.
  ModelConfig c = tiny(Family::kMoe);
  torch::manual_seed(3);
  MoE dropless(c, nullptr);
  c.capacity_factor = 0.5;
  torch::manual_seed(3);
  MoE dropping(c, nullptr);
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::randn({3, 10, c.d_model});
  EXPECT_GT((dropless(x) - dropping(x)).abs().max().item<double>(), 1e-4);
}

// The router's gradient from the aux loss alone (the MoE output's own
// gradient made zero), for a model whose loss weight is `loss_weight`.
torch::Tensor router_aux_gradient(double loss_weight, bool checkpointed, double aux_loss_coef) {
  torch::manual_seed(4);
  ModelConfig c = tiny(Family::kMoe);
  c.aux_loss_coef = aux_loss_coef;
  const auto model = make_model(c);
  model->set_loss_weight(loss_weight);
  const auto& block = model->blocks()[0];
  const torch::Tensor x = torch::randn({2, 16, c.d_model}).requires_grad_(true);
  auto run = [&](const torch::Tensor& t) { return block->forward(t); };
  const torch::Tensor y = checkpointed ? recompute_in_backward(run, x) : run(x);
  (y * 0).sum().backward();
  for (const auto& item : block->named_parameters()) {
    if (item.key() == "mlp.router.weight") return item.value().grad().clone();
  }
  ADD_FAILURE() << "no router";
  return {};
}

TEST_F(Families, LoadBalancingGradientReachesTheRouterAlsoWhenCheckpointed) {
  const torch::Tensor plain = router_aux_gradient(1.0, false, 0.01);
  ASSERT_TRUE(plain.defined());
  EXPECT_GT(plain.abs().max().item<double>(), 0.0) << "the aux loss gives the router a gradient";
  const torch::Tensor checkpointed = router_aux_gradient(1.0, true, 0.01);
  EXPECT_LT((plain - checkpointed).abs().max().item<double>(), 1e-9)
      << "recomputation in backward gives the same aux gradient";
  // Scaled by aux_loss_coef and by the model's loss weight (1 / micro-batches).
  const torch::Tensor halved = router_aux_gradient(0.5, true, 0.01);
  EXPECT_LT((plain * 0.5 - halved).abs().max().item<double>(), 1e-9);
  const torch::Tensor doubled_coef = router_aux_gradient(1.0, false, 0.02);
  EXPECT_LT((plain * 2 - doubled_coef).abs().max().item<double>(), 1e-9);
  const torch::Tensor off = router_aux_gradient(1.0, false, 0.0);
  EXPECT_EQ(off.abs().max().item<double>(), 0.0);
}

TEST_F(Families, AuxLossIsOneAtPerfectBalanceAndTheRecordedLossIsCrossEntropy) {
  torch::manual_seed(5);
  ModelConfig c = tiny(Family::kMoe);
  MoE moe(c, nullptr);
  {
    torch::NoGradGuard no_grad;
    moe->router->weight.zero_();  // every probability 1/E; top-k ties go to the lowest experts
  }
  moe(torch::randn({2, 8, c.d_model}));
  // f: all choices on experts 0 and 1 (1/2 each), P = 1/4 each: E * (2 * 1/2 * 1/4) = 1.
  EXPECT_NEAR(moe->last_aux_loss.item<double>(), 1.0, 1e-6);

  torch::manual_seed(6);
  const auto model = make_model(c);
  const torch::Tensor x = torch::randint(256, {2, 32}, torch::kInt64);
  const torch::Tensor y = torch::randint(256, {2, 32}, torch::kInt64);
  const torch::Tensor logits = model->forward(x);
  const double cross_entropy =
      torch::nn::functional::cross_entropy(logits.view({-1, 256}), y.view({-1})).item<double>();
  EXPECT_DOUBLE_EQ(model->loss(x, y).item<double>(), cross_entropy);
}

// The memory model's activation bytes against what the CPU allocator hands
// out over one forward and backward (parameters and gradients live in the
// state's buffers, made before the probe's baseline).
TEST_F(Families, ActivationBytesMatchTheMemoryModel) {
  for (const Family family : {Family::kGpt2, Family::kLlama, Family::kMoe, Family::kLstm}) {
    for (const bool checkpointing : {false, true}) {
      ModelConfig c = tiny(family);
      c.n_layer = 4;
      c.d_model = 64;
      c.n_head = 4;
      c.d_ff = family == Family::kGpt2 ? 256 : (family == Family::kLstm ? 0 : 176);
      c.seq_len = 64;
      torch::manual_seed(7);
      const auto model = make_model(c);
      ShardedState state(*model, torch::kCPU, Sharding::kNone, Collectives{}, checkpointing);
      const int64_t sequences = 16;
      const torch::Tensor x = torch::randint(256, {sequences, 64}, torch::kInt64);
      const torch::Tensor y = torch::randint(256, {sequences, 64}, torch::kInt64);
      double peak = 0;
      {
        AllocationProbe probe;
        const int64_t before = probe.current_cpu();
        probe.reset_peak();
        model->loss(x, y).backward();
        peak = double(probe.peak_cpu() - before);
      }
      MemoryOptions o;
      o.micro_batch_sequences = sequences;
      o.activation_checkpointing = checkpointing;
      const double predicted = estimate_memory(c, o).activations;
      std::printf("[ memory ] %-5s %-3s allocator peak %9.0f  model %9.0f  ratio %.3f\n",
                  to_string(family), checkpointing ? "ckp" : "", peak, predicted, peak / predicted);
      EXPECT_NEAR(peak / predicted, 1.0, 0.3)
          << to_string(family) << (checkpointing ? " + checkpointing" : "") << ": allocator "
          << peak << " bytes, model " << predicted;
    }
  }
}

class FamilyTraining : public ::testing::TestWithParam<Family> {
 protected:
  void SetUp() override {
    torch::set_num_threads(1);
    dir_ = ::testing::TempDir() + "families_test_" + std::to_string(int(GetParam())) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::create_directories(dir_);
    data_ = testing_helpers::tiny_corpus(dir_, 200000);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  TrainConfig config(int64_t steps) const {
    TrainConfig c = testing_helpers::tiny_train_config(steps, /*seed=*/42, /*warmup_steps=*/5);
    c.model = tiny(GetParam());
    c.flops_per_token = training_flops_per_token(c.model, FlopConvention::kSixN);
    c.micro_batch_tokens = 4 * 32;  // two micro-batches: the loss weight is 1/2
    c.threads = 1;
    return c;
  }

  std::string dir_;
  std::unique_ptr<TokenData> data_;
};

TEST_P(FamilyTraining, ValidationLossFallsShardedAndCheckpointedOrNot) {
  std::vector<std::vector<EvalRecord>> curves;
  for (const bool sharded : {false, true}) {
    TrainConfig c = config(60);
    c.sharding = sharded ? Sharding::kParameters : Sharding::kNone;
    c.activation_checkpointing = sharded;
    std::vector<EvalRecord> evals;
    TrainHooks hooks;
    hooks.on_eval = [&](const EvalRecord& r) { evals.push_back(r); };
    const RunResult result = train_run(c, *data_, hooks);
    ASSERT_EQ(result.outcome, RunOutcome::kDone) << result.reason;
    ASSERT_GE(evals.size(), 2u);
    EXPECT_LT(evals.back().loss, evals.front().loss - 1.0)
        << to_string(GetParam()) << " sharded=" << sharded << ": from " << evals.front().loss
        << " to " << evals.back().loss;
    curves.push_back(evals);
  }
  // One rank: sharding and recomputation change where the numbers live, not them.
  ASSERT_EQ(curves[0].size(), curves[1].size());
  for (size_t i = 0; i < curves[0].size(); ++i) {
    EXPECT_NEAR(curves[0][i].loss, curves[1][i].loss, 1e-3 * curves[0][i].loss)
        << "step " << curves[0][i].step;
  }
}

TEST_P(FamilyTraining, ResumedRunFollowsTheUninterruptedCurve) {
  TrainConfig c = config(30);
  c.sharding = Sharding::kParameters;
  c.activation_checkpointing = true;
  std::vector<TrainRecord> straight;
  TrainHooks plain;
  plain.on_train = [&](const TrainRecord& r) { straight.push_back(r); };
  ASSERT_EQ(train_run(c, *data_, plain).outcome, RunOutcome::kDone);

  std::vector<TrainRecord> pieces;
  TrainHooks first;
  first.checkpoint_path = dir_ + "/run.ckpt";
  first.on_train = [&](const TrainRecord& r) { pieces.push_back(r); };
  first.stop_requested = [&] { return pieces.size() >= 12; };
  ASSERT_EQ(train_run(c, *data_, first).outcome, RunOutcome::kStopped);
  pieces.resize(read_checkpoint_curves(first.checkpoint_path).train.size());
  TrainHooks second = first;
  second.stop_requested = nullptr;
  const RunResult resumed = train_run(c, *data_, second);
  ASSERT_EQ(resumed.outcome, RunOutcome::kDone) << resumed.reason;
  EXPECT_GT(resumed.start_step, 0);
  ASSERT_EQ(pieces.size(), straight.size());
  for (size_t i = 0; i < straight.size(); ++i) {
    EXPECT_EQ(pieces[i].step, straight[i].step);
    EXPECT_EQ(pieces[i].loss, straight[i].loss) << "step " << straight[i].step;  // bitwise
  }
}

INSTANTIATE_TEST_SUITE_P(Families, FamilyTraining,
                         ::testing::Values(Family::kLlama, Family::kMoe, Family::kLstm),
                         [](const ::testing::TestParamInfo<Family>& info) {
                           return std::string(to_string(info.param));
                         });

}  // namespace
}  // namespace sweep
