// Grid expansion of the shipped job files and of small generated ones.

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <tuple>

#include "model/counting.h"
#include "spec/grid.h"
#include "spec/job_spec.h"
#include "spec/tuning.h"

namespace sweep {
namespace {

std::string shipped(const char* name) { return std::string(SWEEP_SOURCE_DIR) + "/jobs/" + name; }

// Within 15%: at a fixed depth N moves in steps of one head (model/shapes.h).
TEST(Grid, ChinchillaJobSpansSeventyMillionToSixteenBillionWithinFifteenPercent) {
  const JobSpec job = load_job_file(shipped("chinchilla.toml"));
  const Grid grid = expand_grid(job);
  ASSERT_EQ(job.grid.budgets.size(), 9u);
  EXPECT_EQ(job.grid.budgets.front(), 6e18);
  EXPECT_EQ(job.grid.budgets.back(), 3e21);
  EXPECT_EQ(grid.runs.size(), 81u);
  double smallest = INFINITY, largest = 0;
  for (const RunSpec& run : grid.runs) {
    const double realized = double(run.params.total);
    EXPECT_NEAR(realized / run.target_params, 1.0, 0.15) << run.run_id;
    EXPECT_NEAR(run.flops / run.budget, 1.0, 0.01) << run.run_id;
    smallest = std::min(smallest, realized);
    largest = std::max(largest, realized);
  }
  EXPECT_NEAR(smallest / 70e6, 1.0, 0.15);
  EXPECT_NEAR(largest / 16e9, 1.0, 0.15);
}

// The quickstart's grid: budgets spanning 10x, each a profile of at least 4
// distinct sizes, no model below 2 layers and no size shallower than a
// smaller one (docs/prediction.md says why each matters).
TEST(Grid, QuickstartHasFiveBudgetsOfFourSizesThatNeverGetShallower) {
  const JobSpec job = load_job_file(shipped("quickstart.toml"));
  const Grid grid = expand_grid(job);
  std::map<double, std::set<int64_t>> sizes;
  std::map<int64_t, int64_t> depth;  // realized N -> n_layer
  for (const RunSpec& run : grid.runs) {
    sizes[run.budget].insert(run.params.total);
    depth[run.params.total] = run.model.n_layer;
    EXPECT_GE(run.model.n_layer, 2) << run.run_id;
  }
  ASSERT_GE(sizes.size(), 5u);
  EXPECT_GE(sizes.rbegin()->first / sizes.begin()->first, 10.0);
  for (const auto& [budget, ns] : sizes) EXPECT_GE(ns.size(), 4u) << "budget " << budget;
  int64_t previous = 0;
  for (const auto& [n, layers] : depth) {
    EXPECT_GE(layers, previous) << "N " << n;
    previous = layers;
  }
}

TEST(Grid, LaptopJobExpands) {
  const Grid grid = expand_grid(load_job_file(shipped("laptop.toml")));
  EXPECT_GE(grid.runs.size(), 30u);
}

TEST(Grid, RunsAreWholeStepsAndCarryTheirAccounting) {
  const JobSpec job = load_job_file(shipped("quickstart.toml"));
  const Grid grid = expand_grid(job);
  std::set<std::string> ids;
  std::set<uint64_t> seeds;
  for (size_t i = 0; i < grid.runs.size(); ++i) {
    const RunSpec& run = grid.runs[i];
    EXPECT_EQ(run.index, int(i));
    EXPECT_EQ(run.tokens, run.steps * job.train.batch_tokens);
    EXPECT_GE(run.steps, job.grid.min_steps);
    EXPECT_DOUBLE_EQ(run.flops, run.flops_per_token * double(run.tokens));
    EXPECT_DOUBLE_EQ(run.flops_per_token, 6.0 * double(run.params.total));
    // Rounding D to whole steps moves C by at most half a step.
    EXPECT_LE(std::fabs(run.flops - run.budget),
              0.5 * run.flops_per_token * job.train.batch_tokens);
    EXPECT_TRUE(ids.insert(run.run_id).second) << run.run_id;
    seeds.insert(run.seed);
  }
  EXPECT_EQ(seeds.size(), grid.runs.size());
  // Same job, same grid: every rank must expand identically.
  const Grid again = expand_grid(load_job_file(shipped("quickstart.toml")));
  ASSERT_EQ(again.runs.size(), grid.runs.size());
  for (size_t i = 0; i < grid.runs.size(); ++i) {
    EXPECT_EQ(again.runs[i].run_id, grid.runs[i].run_id);
    EXPECT_EQ(again.runs[i].seed, grid.runs[i].seed);
  }
}

TEST(Grid, LearningRateRules) {
  TrainSection train;
  ModelConfig model;
  model.d_model = 512;
  train.lr = 1e-3;
  train.lr_rule = LrRule::kConstant;
  EXPECT_DOUBLE_EQ(peak_lr(train, model), 1e-3);
  train.lr_rule = LrRule::kInverseWidth;
  train.lr_base_width = 256;
  EXPECT_DOUBLE_EQ(peak_lr(train, model), 5e-4);
  train.lr_rule = LrRule::kKaplan;
  model = ModelConfig{};  // GPT-2 small, 85M non-embedding: Kaplan's formula gives ~6.9e-4
  EXPECT_NEAR(peak_lr(train, model), 6.92e-4, 0.01e-4);
}

TEST(Grid, ComputeConventionChangesTokensNotShapes) {
  JobSpec six = load_job_file(shipped("quickstart.toml"));
  JobSpec chin = six;
  chin.grid.flop_convention = FlopConvention::kChinchilla;
  const Grid a = expand_grid(six), b = expand_grid(chin);
  ASSERT_EQ(a.runs.size(), b.runs.size());
  for (size_t i = 0; i < a.runs.size(); ++i) {
    EXPECT_EQ(a.runs[i].params.total, b.runs[i].params.total);
    EXPECT_NEAR(b.runs[i].flops / b.runs[i].budget, 1.0, 0.05);
  }
}

// sweep.seeds = 3: every grid point three times, adjacent, with the same N
// and D and distinct ids and seeds; the first keeps the id it has alone.
TEST(Grid, SeedsRepeatEveryRunWithItsOwnSeed) {
  JobSpec job = load_job_file(shipped("quickstart.toml"));
  const Grid one = expand_grid(job);
  job.sweep.seeds = 3;
  const Grid three = expand_grid(job);
  ASSERT_EQ(three.runs.size(), 3 * one.runs.size());
  std::set<uint64_t> seeds;
  for (size_t i = 0; i < one.runs.size(); ++i) {
    for (int r = 0; r < 3; ++r) {
      const RunSpec& run = three.runs[3 * i + size_t(r)];
      EXPECT_EQ(run.replica, r);
      EXPECT_EQ(run.index, int(3 * i) + r);
      EXPECT_EQ(run.params.total, one.runs[i].params.total);
      EXPECT_EQ(run.tokens, one.runs[i].tokens);
      EXPECT_EQ(run.run_id, r == 0 ? one.runs[i].run_id
                                   : one.runs[i].run_id + "-s" + std::to_string(r));
      seeds.insert(run.seed);
    }
    EXPECT_EQ(three.runs[3 * i].seed, one.runs[i].seed);
  }
  EXPECT_EQ(seeds.size(), three.runs.size());
}

}  // namespace
}  // namespace sweep

namespace sweep {
namespace {

// Every variant gets the job's budgets and sizes; ids start with its name.
TEST(Grid, VariantsShareTheBudgetsAndTagTheirRuns) {
  const std::string text = R"(
[data]
corpus = "/nonexistent"
seq_len = 64
[grid]
budgets = [1e11, 1e12]
params = [1e4, 4e4]
[model]
aspect_ratio = 16
head_dim = 8
[train]
batch_tokens = 1024
[[variant]]
name = "gpt"
[[variant]]
name = "llama"
family = "llama"
lr = 4e-3
)";
  const JobSpec job = parse_job_text(text, "v.toml");
  const Grid grid = expand_grid(job);
  std::map<int, std::set<double>> budgets;
  for (const RunSpec& run : grid.runs) {
    const std::string& name = job.variants[size_t(run.variant)].name;
    EXPECT_EQ(run.run_id.rfind(name + "-C", 0), 0u) << run.run_id;
    EXPECT_EQ(run.model.family, job.variants[size_t(run.variant)].model.family);
    EXPECT_DOUBLE_EQ(run.lr, run.variant == 1 ? 4e-3 : 1e-3);
    EXPECT_NEAR(run.flops / run.budget, 1.0, 0.02) << run.run_id;
    budgets[run.variant].insert(run.budget);
  }
  EXPECT_EQ(budgets[0], budgets[1]);
  EXPECT_EQ(budgets[0].size(), 2u);
  // Budget by budget, variant by variant, small first; indices in that order.
  for (size_t i = 1; i < grid.runs.size(); ++i) {
    const RunSpec &a = grid.runs[i - 1], &b = grid.runs[i];
    EXPECT_LE(std::make_tuple(a.budget, a.variant, a.params.active),
              std::make_tuple(b.budget, b.variant, b.params.active));
    EXPECT_EQ(b.index, int(i));
  }
  // Without variants the ids are as they always were.
  const JobSpec plain = parse_job_text(text.substr(0, text.find("[[variant]]")), "p.toml");
  for (const RunSpec& run : expand_grid(plain).runs) EXPECT_EQ(run.run_id[0], 'C') << run.run_id;
}

}  // namespace
}  // namespace sweep

namespace sweep {
namespace {

// jobs/families.toml: four families on one grid, each with the rate its
// tune runs choose; the mixture's N is its active parameter count.
TEST(Grid, FamiliesJobTrainsEveryFamilyOnTheSameBudgets) {
  const JobSpec job = load_job_file(shipped("families.toml"));
  ASSERT_EQ(job.variants.size(), 4u);
  const Grid grid = expand_grid(job);
  std::map<std::string, std::set<double>> budgets;
  std::map<std::string, Family> families;
  int tune = 0;
  for (const RunSpec& run : grid.runs) {
    const Variant& v = job.variants[size_t(run.variant)];
    EXPECT_TRUE(v.tuned()) << v.name;
    if (run.is_tune()) {
      ++tune;
      continue;
    }
    budgets[v.name].insert(run.budget);
    families[v.name] = run.model.family;
    EXPECT_GE(run.model.n_layer, 2) << run.run_id;
    if (run.model.family == Family::kMoe) {
      EXPECT_EQ(run.model.n_experts, 8) << run.run_id;
      EXPECT_EQ(run.model.top_k, 2) << run.run_id;
      EXPECT_LT(count_params(run.model).active, count_params(run.model).total) << run.run_id;
    }
  }
  EXPECT_EQ(families.at("gpt2"), Family::kGpt2);
  EXPECT_EQ(families.at("llama"), Family::kLlama);
  EXPECT_EQ(families.at("lstm"), Family::kLstm);
  EXPECT_EQ(families.at("moe"), Family::kMoe);
  EXPECT_EQ(budgets.at("gpt2").size(), 4u);
  for (const std::string name : {"llama", "lstm", "moe"})
    EXPECT_EQ(budgets.at("gpt2"), budgets.at(name)) << name;
  EXPECT_EQ(grid.runs.size(), 98u);
  EXPECT_EQ(tune, 40) << "5 rates x 2 sizes x 4 families";
}

// A job with [tune]: a variant's lr and weight decay chosen at two sizes.
JobSpec tuned_job() {
  return parse_job_text(R"([sweep]
name = "t"
[data]
corpus = "/nonexistent"
seq_len = 64
[grid]
budgets = [1e10, 1e11]
tokens_per_param = [20, 200]
[model]
aspect_ratio = 16
head_dim = 8
[train]
batch_tokens = 1024
lr_rule = "inverse_width"
lr_base_width = 32
[tune]
lr = [1e-3, 4e-3]
weight_decay = [0.0, 0.1]
budget = 1e10
tokens_per_param = [10, 100]
variants = ["b"]
[[variant]]
name = "a"
lr = 2e-3
[[variant]]
name = "b"
family = "llama"
)",
                        "t.toml");
}

TEST(Grid, TunedVariantsTrainEveryCandidateFirstAndTheirGridLearnsItsLrAtTheStart) {
  const JobSpec job = tuned_job();
  const Grid grid = expand_grid(job);
  std::vector<const RunSpec*> tune, grid_a, grid_b;
  for (const RunSpec& r : grid.runs)
    (r.is_tune() ? tune : r.variant == 0 ? grid_a : grid_b).push_back(&r);
  ASSERT_EQ(tune.size(), 8u) << "4 candidates x 2 sizes";
  ASSERT_EQ(grid_a.size(), 4u);
  ASSERT_EQ(grid_b.size(), 4u);
  for (size_t i = 0; i < tune.size(); ++i) {
    EXPECT_EQ(tune[i]->index, int(i)) << "tune runs come first";
    EXPECT_EQ(tune[i]->variant, 1);
    EXPECT_EQ(tune[i]->budget, 1e10);
  }
  const RunSpec& t = *tune[3];  // the first size, candidate 3: lr 4e-3, weight_decay 0.1
  EXPECT_EQ(t.recipe, 3);
  EXPECT_EQ(t.run_id.substr(0, 31), "b-tune-lr4e-3-weight_decay1e-1-");
  EXPECT_DOUBLE_EQ(t.lr, 4e-3 * 32.0 / double(t.model.d_model));
  EXPECT_DOUBLE_EQ(run_recipe(job, t).weight_decay, 0.1);
  EXPECT_NEAR(double(t.tokens) / double(t.params.active), 10, 10 * 0.5);
  EXPECT_GT(tune[0]->params.active, tune[4]->params.active) << "10 then 100 tokens per parameter";
  for (const RunSpec* r : grid_b) {
    EXPECT_TRUE(std::isnan(r->lr)) << r->run_id << ": decided when it starts";
    EXPECT_EQ(r->recipe, -1);
    EXPECT_DOUBLE_EQ(run_recipe(job, *r, 2).lr, 4e-3);
  }
  for (const RunSpec* r : grid_a) EXPECT_DOUBLE_EQ(r->lr, 2e-3 * 32.0 / double(r->model.d_model));

  // b's grid waits for b's tune runs; a's does not wait.
  const auto after = tune_prerequisites(grid);
  for (const RunSpec* r : grid_b) EXPECT_EQ(after[size_t(r->index)].size(), 8u);
  for (const RunSpec* r : grid_a) EXPECT_TRUE(after[size_t(r->index)].empty());
  for (const RunSpec* r : tune) EXPECT_TRUE(after[size_t(r->index)].empty());
  EXPECT_TRUE(tune_prerequisites(grid, {false, true})[size_t(grid_b[0]->index)].empty())
      << "a variant whose recipe is decided waits for nothing";
}

TEST(Tuning, TheLowestMeanLossOverEverySizeWinsAndADivergedCandidateLoses) {
  const JobSpec job = tuned_job();
  const Grid grid = expand_grid(job);
  std::vector<double> loss(grid.runs.size(), NAN);
  // Candidate c at size s is run s * 4 + c. Candidate 3 is best at size 0
  // but diverged at size 1; candidate 1 has the lowest mean of the rest.
  const double at_size[2][4] = {{2.0, 1.9, 2.1, 1.5}, {1.8, 1.75, 1.7, NAN}};
  for (int s = 0; s < 2; ++s)
    for (int c = 0; c < 4; ++c) loss[size_t(s * 4 + c)] = at_size[s][c];
  TuneChoice choice = choose_recipe(job, grid, 1, loss);
  EXPECT_EQ(choice.recipe, 1) << choice.how;
  EXPECT_EQ(choice.how, "the lowest mean final loss at 2 sizes");
  ASSERT_EQ(choice.candidates.size(), 4u);
  EXPECT_DOUBLE_EQ(choice.candidates[1].mean_loss, (1.9 + 1.75) / 2);
  EXPECT_EQ(choice.candidates[3].finished, 1);
  EXPECT_EQ(choice.candidates[2].runs, (std::vector<int>{2, 6}));

  // None finished everywhere: the most sizes, then the lowest mean.
  for (int c = 0; c < 4; ++c) loss[size_t(4 + c)] = NAN;
  choice = choose_recipe(job, grid, 1, loss);
  EXPECT_EQ(choice.recipe, 3) << choice.how;
  EXPECT_NE(choice.how.find("no candidate finished at all 2 sizes"), std::string::npos) << choice.how;
  // None finished at all: the first candidate, said so.
  std::fill(loss.begin(), loss.end(), NAN);
  choice = choose_recipe(job, grid, 1, loss);
  EXPECT_EQ(choice.recipe, 0);
  EXPECT_NE(choice.how.find("no candidate finished at any"), std::string::npos) << choice.how;
  // An untuned variant has nothing to choose.
  EXPECT_EQ(choose_recipe(job, grid, 0, loss).recipe, -1);
}

}  // namespace
}  // namespace sweep
