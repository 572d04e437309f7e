// Job files: strict parsing, and one located error line for every kind of bad input.

#include <gtest/gtest.h>

#include <string>

#include "common/error.h"
#include "spec/grid.h"
#include "spec/job_spec.h"

namespace sweep {
namespace {

// A small valid job; tests replace or append lines to break it.
const char* kValid = R"(# test job
[sweep]
name = "t"
seed = 7

[data]
corpus = "/nonexistent/corpus.txt"
seq_len = 64

[grid]
budgets = [1e10, 1e11]
tokens_per_param = { min = 20, max = 2000, count = 3 }

[model]
aspect_ratio = 16
head_dim = 8

[train]
batch_tokens = 1024
)";

std::string error_of(const std::string& text) {
  try {
    const JobSpec job = parse_job_text(text, "t.toml");
    expand_grid(job);
  } catch (const UserError& e) {
    return e.what();
  }
  return "(no error)";
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return text.replace(at, from.size(), to);
}

TEST(JobSpec, ValidJobGetsDefaultsForEverythingUnsaid) {
  const JobSpec job = parse_job_text(kValid, "t.toml");
  EXPECT_EQ(job.sweep.name, "t");
  EXPECT_EQ(job.sweep.output, "runs/t.h5");
  EXPECT_EQ(job.sweep.seed, 7u);
  EXPECT_EQ(job.data.vocab_size, 256);
  EXPECT_EQ(job.grid.flop_convention, FlopConvention::kSixN);
  ASSERT_EQ(job.grid.tokens_per_param.size(), 3u);
  EXPECT_NEAR(job.grid.tokens_per_param[1], 200.0, 1e-9);  // log range midpoint
  EXPECT_EQ(job.train.min_lr_ratio, 0.1);
  EXPECT_EQ(job.fit.bootstrap, 1000);
  EXPECT_EQ(job.text, kValid);
}

TEST(JobSpec, UnknownKeyIsAnErrorAtItsPosition) {
  const std::string e = error_of(replaced(kValid, "head_dim = 8", "head_dimm = 8"));
  EXPECT_EQ(e.rfind("t.toml:16:1: model.head_dimm: unknown key", 0), 0u) << e;
  EXPECT_NE(e.find("head_dim"), std::string::npos) << e;  // lists what is allowed
}

TEST(JobSpec, UnknownSectionIsAnError) {
  const std::string e = error_of(std::string(kValid) + "[optimizer]\nlr = 1\n");
  EXPECT_NE(e.find("optimizer: unknown key (section)"), std::string::npos) << e;
}

TEST(JobSpec, WrongTypeNamesKeyValueAndWhatIsAllowed) {
  const std::string e = error_of(replaced(kValid, "seq_len = 64", "seq_len = \"64\""));
  EXPECT_EQ(e, "t.toml:8:11: data.seq_len = \"64\": must be an integer in [8, 65536]");
}

TEST(JobSpec, FloatWhereAnIntegerBelongsIsAnError) {
  const std::string e = error_of(replaced(kValid, "seq_len = 64", "seq_len = 64.5"));
  EXPECT_NE(e.find("data.seq_len = 64.5: must be an integer"), std::string::npos) << e;
}

TEST(JobSpec, OutOfRangeValueSaysTheAllowedRange) {
  const std::string e =
      error_of(replaced(kValid, "seq_len = 64", "seq_len = 64\nvalidation_fraction = 0.9"));
  EXPECT_EQ(
      e,
      "t.toml:9:23: data.validation_fraction = 0.9: out of range; allowed: a number in (0, 0.5]");
}

TEST(JobSpec, UnknownEnumValueListsTheChoices) {
  const std::string e = error_of(replaced(kValid, "[grid]", "[grid]\nflop_convention = \"6ND\""));
  EXPECT_NE(e.find("grid.flop_convention = \"6ND\": unknown value; allowed: \"6N\", \"kaplan\", "
                   "\"chinchilla\""),
            std::string::npos)
      << e;
}

TEST(JobSpec, SizeListsMustMatchTheBudgets) {
  const std::string e =
      error_of(replaced(kValid, "tokens_per_param = { min = 20, max = 2000, count = 3 }",
                        "params = [[1e4, 2e4], [1e4, 2e4], [3e4]]"));
  EXPECT_NE(e.find("t.toml:12:10: grid.params = [[10000, 20000], [10000, 20000], [30000]]"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("has 3 lists but grid.budgets has 2 budgets"), std::string::npos) << e;
}

TEST(JobSpec, BudgetTooSmallForAnyModelIsAnErrorAtBudgets) {
  const std::string e =
      error_of(replaced(kValid, "budgets = [1e10, 1e11]", "budgets = [1e6, 1e11]"));
  EXPECT_EQ(e.rfind("t.toml:11:11: grid.budgets = [1e6, 1e11]: budget 1e6 FLOPs is too small", 0),
            0u)
      << e;
  EXPECT_NE(e.find("allowed: budgets >= "), std::string::npos) << e;
}

TEST(JobSpec, BatchMustBeWholeSequences) {
  const std::string e = error_of(replaced(kValid, "batch_tokens = 1024", "batch_tokens = 1000"));
  EXPECT_NE(e.find("train.batch_tokens = 1000: must be a multiple of data.seq_len (64)"),
            std::string::npos)
      << e;
}

TEST(JobSpec, ParamsAndTokensPerParamExcludeEachOther) {
  const std::string e = error_of(replaced(kValid, "[model]", "params = [1e4]\n[model]"));
  EXPECT_NE(e.find("give either grid.params or grid.tokens_per_param"), std::string::npos) << e;
}

TEST(JobSpec, MissingCorpusKeyAndMissingSectionAreErrors) {
  EXPECT_NE(error_of(replaced(kValid, "corpus = \"/nonexistent/corpus.txt\"", ""))
                .find("data.corpus: missing"),
            std::string::npos);
  const std::string no_grid = std::string(kValid).substr(0, std::string(kValid).find("[grid]"));
  EXPECT_NE(error_of(no_grid).find("missing section [grid]"), std::string::npos);
}

TEST(JobSpec, CorpusThatMatchesNothingIsAnErrorWhenRequired) {
  const JobSpec job = parse_job_text(kValid, "t.toml");
  EXPECT_TRUE(job.data.files.empty());
  try {
    require_corpus(job);
    FAIL() << "no error for a missing corpus";
  } catch (const UserError& e) {
    EXPECT_EQ(std::string(e.what()).rfind(
                  "t.toml:7:10: data.corpus = \"/nonexistent/corpus.txt\": no file matches", 0),
              0u)
        << e.what();
  }
}

TEST(JobSpec, SyntaxErrorPointsAtLineAndColumn) {
  const std::string e = error_of(replaced(kValid, "seed = 7", "seed = = 7"));
  EXPECT_EQ(e.rfind("t.toml:4:", 0), 0u) << e;
  EXPECT_NE(e.find("TOML syntax error"), std::string::npos) << e;
}

TEST(JobSpec, KaplanRuleRefusesAnExplicitLr) {
  const std::string e = error_of(replaced(kValid, "batch_tokens = 1024",
                                          "batch_tokens = 1024\nlr_rule = \"kaplan\"\nlr = 1e-3"));
  EXPECT_NE(e.find("train.lr = 0.001: lr_rule = \"kaplan\" sets the learning rate"),
            std::string::npos)
      << e;
}

TEST(JobSpec, SlotSizesAndLargeRunRules) {
  const JobSpec job = parse_job_text(
      std::string(kValid) +
          "[resources]\nranks_per_run = [4, 2]\n"
          "large_runs = [{ params = 1e6, ranks = 4 }, { params = 1e5, ranks = 2 }]\n",
      "t.toml");
  EXPECT_EQ(job.resources.slot_sizes, (std::vector<int64_t>{4, 2}));
  EXPECT_EQ(job.resources.ranks_needed(50000), 1);
  EXPECT_EQ(job.resources.ranks_needed(200000), 2);
  EXPECT_EQ(job.resources.ranks_needed(2000000), 4);
  std::string e =
      error_of(std::string(kValid) +
               "[resources]\nranks_per_run = [2]\nlarge_runs = [{ params = 1e6, ranks = 4 }]\n");
  EXPECT_NE(e.find("asks for slots of 4 ranks but the largest in resources.ranks_per_run has 2"),
            std::string::npos)
      << e;
  e = error_of(std::string(kValid) + "[resources]\nranks_per_run = [3]\n");
  EXPECT_NE(e.find("slot size 3 must divide the batch of 16 sequences"), std::string::npos) << e;
}

TEST(JobSpec, MicroBatchMustDivideEachRanksShareForEverySlotSize) {
  // 48 sequences of 64 tokens per step, micro-batches of 8 sequences.
  const std::string job = replaced(kValid, "batch_tokens = 1024",
                                   "batch_tokens = 3072\nmicro_batch_tokens = 512");
  // Slots of 2, 6 and 8 give each rank 24, 8 and 6 sequences: whole
  // micro-batches, or one smaller than a micro-batch.
  EXPECT_EQ(error_of(job + "[resources]\nranks_per_run = [2, 6, 8]\n"), "(no error)");
  // A slot of 4 gives each rank 12: it used to pass `check` and fail every run.
  const std::string e = error_of(job + "[resources]\nranks_per_run = [2, 4]\n");
  EXPECT_NE(e.find("resources.ranks_per_run"), std::string::npos) << e;
  EXPECT_NE(e.find("slot size 4 gives each rank 12 sequences per step, which "
                   "train.micro_batch_tokens (8 sequences) does not divide"),
            std::string::npos)
      << e;
}

TEST(JobSpec, HoldoutMustLeaveTwoBudgetsToFit) {
  const std::string e = error_of(std::string(kValid) + "[fit]\nholdout_budgets = 1\n");
  EXPECT_NE(e.find("fit.holdout_budgets = 1: leaves 1 of 2 budgets"), std::string::npos) << e;
}

TEST(JobSpec, TargetsTakeComputeOrParamsAndTokens) {
  const JobSpec job = parse_job_text(std::string(kValid) +
                                         "[fit]\nholdout_budgets = 0\ntargets = [1e20, { name = "
                                         "\"big\", params = 7e10, tokens = 1.4e12 }]\n",
                                     "t.toml");
  ASSERT_EQ(job.fit.targets.size(), 2u);
  EXPECT_EQ(job.fit.targets[0].compute, 1e20);
  EXPECT_EQ(job.fit.targets[1].name, "big");
  EXPECT_EQ(job.fit.targets[1].tokens, 1.4e12);
  const std::string e =
      error_of(std::string(kValid) + "[fit]\nholdout_budgets = 0\ntargets = [{ params = 7e10 }]\n");
  EXPECT_NE(e.find("a target is either"), std::string::npos) << e;
}

TEST(JobSpec, ExplicitRunsNeedParamsAndTokens) {
  const JobSpec job = parse_job_text(
      replaced(replaced(kValid, "budgets = [1e10, 1e11]\n", ""),
               "tokens_per_param = { min = 20, max = 2000, count = 3 }",
               "runs = [{ params = 2e4, tokens = 1e6 }, { params = 5e4, tokens = 2e6 }]"),
      "t.toml");
  EXPECT_EQ(job.grid.runs.size(), 2u);
  const std::string e =
      error_of(replaced(kValid, "[model]", "[[grid.runs]]\nparams = 1e4\n[model]"));
  EXPECT_NE(e.find("every run needs params and tokens"), std::string::npos) << e;
}

}  // namespace
}  // namespace sweep

namespace sweep {
namespace {

// ---- [[variant]] and the families' [model] keys ------------------------------

const char* kVariants = R"(
[[variant]]
name = "gpt"

[[variant]]
name = "llama"
family = "llama"
n_kv_head = 1
lr = 3e-3

[[variant]]
name = "lstm"
family = "lstm"
layers = 1
weight_decay = 0.0
)";

TEST(JobSpec, VariantsPutTheirKeysOverTheJobsModelAndTrain) {
  const JobSpec job = parse_job_text(std::string(kValid) + kVariants, "t.toml");
  ASSERT_TRUE(job.has_variants());
  ASSERT_EQ(job.variants.size(), 3u);
  const Variant& gpt = job.variants[0];
  const Variant& llama = job.variants[1];
  const Variant& lstm = job.variants[2];
  EXPECT_EQ(gpt.model.family, Family::kGpt2);
  EXPECT_TRUE(gpt.model_keys.empty());
  EXPECT_TRUE(gpt.model.shape.tie_embeddings);
  EXPECT_DOUBLE_EQ(gpt.model.shape.ffn_mult, 4.0);
  // The job's [model] (aspect 16, head_dim 8) under each variant's own keys.
  EXPECT_EQ(llama.model.family, Family::kLlama);
  EXPECT_EQ(llama.model.shape.head_dim, 8);
  EXPECT_DOUBLE_EQ(llama.model.shape.aspect_ratio, 16);
  EXPECT_EQ(llama.model.shape.n_kv_head, 1);
  EXPECT_FALSE(llama.model.shape.tie_embeddings);  // llama's default: untied
  EXPECT_NEAR(llama.model.shape.ffn_mult, 8.0 / 3.0, 1e-12);
  EXPECT_DOUBLE_EQ(llama.train.lr, 3e-3);
  EXPECT_DOUBLE_EQ(llama.train.weight_decay, 0.1);  // the job's
  EXPECT_EQ(llama.model_keys.at("family"), "\"llama\"");
  EXPECT_EQ(llama.train_keys.at("lr"), "0.003");
  EXPECT_EQ(lstm.model.shape.layers, 1);
  EXPECT_DOUBLE_EQ(lstm.train.weight_decay, 0.0);
  EXPECT_DOUBLE_EQ(lstm.train.lr, 1e-3);
  // Shared keys stay the job's.
  EXPECT_EQ(job.train.batch_tokens, 1024);
}

TEST(JobSpec, AJobWithoutVariantsIsOneUnnamedVariant) {
  const JobSpec job = parse_job_text(kValid, "t.toml");
  EXPECT_FALSE(job.has_variants());
  ASSERT_EQ(job.variants.size(), 1u);
  EXPECT_EQ(job.variants[0].name, "");
  EXPECT_EQ(job.variants[0].model.family, Family::kGpt2);
}

TEST(JobSpec, BadVariantsAreOneLocatedError) {
  const std::string base(kValid);
  // A key no variant may set: batch and evaluation are the job's.
  EXPECT_EQ(error_of(base + "[[variant]]\nname = \"a\"\nbatch_tokens = 2048\n").substr(0, 48),
            "t.toml:22:16: variant[0].batch_tokens = 2048: a ");
  // The variant's value, checked by the [model] reader, located at its line.
  EXPECT_EQ(error_of(base + "[[variant]]\nname = \"a\"\nfamily = \"rnn\"\n"),
            "t.toml:22:10: variant[0].family = \"rnn\": unknown value; allowed: \"gpt2\", "
            "\"llama\", \"lstm\", \"moe\"");
  EXPECT_EQ(error_of(base + "[[variant]]\nname = \"a\"\nn_experts = 4\n"),
            "t.toml:22:13: variant[0].n_experts = 4: only used with model.family = \"moe\" "
            "(this job: \"gpt2\")");
  EXPECT_EQ(error_of(base + "[[variant]]\nname = \"a\"\nfamily = \"moe\"\ntop_k = 9\n"),
            "t.toml:23:9: variant[0].top_k = 9: must not exceed model.n_experts (8)");
  EXPECT_EQ(error_of(base + "[[variant]]\nname = \"a\"\nlr = 2.0\n"),
            "t.toml:22:6: variant[0].lr = 2: out of range; allowed: a number in (0, 1]");
  EXPECT_NE(error_of(base + "[[variant]]\nname = \"a\"\n[[variant]]\nname = \"a\"\n")
                .find("variant[1].name = \"a\": two variants share this name"),
            std::string::npos);
  EXPECT_NE(error_of(base + "[[variant]]\nname = \"a-b\"\n").find("must be a letter"),
            std::string::npos);
  EXPECT_NE(error_of(base + "[[variant]]\nfamily = \"llama\"\n").find("variant[0].name: required"),
            std::string::npos);
  EXPECT_NE(error_of("variant = 3\n" + base).find("variant = 3: must be an array of tables"),
            std::string::npos);
  // [model] keys of another family are errors in [model] itself too.
  EXPECT_NE(error_of(replaced(base, "head_dim = 8", "head_dim = 8\nn_kv_head = 2"))
                .find("model.n_kv_head = 2: only used with model.family = \"llama\" or \"moe\""),
            std::string::npos);
}

// ---- [tune]: recipes chosen by a small sweep -----------------------------------

TEST(JobSpec, TuneMakesEveryCombinationOfItsValuesACandidateOfEachTunedVariant) {
  const JobSpec job = parse_job_text(std::string(kValid) + kVariants +
                                         "[tune]\nlr = [1e-3, 4e-3]\nbeta2 = [0.95, 0.99, 0.999]\n"
                                         "variants = [\"gpt\", \"lstm\"]\nbudget = 1e10\n"
                                         "tokens_per_param = [20, 200]\n",
                                     "t.toml");
  ASSERT_TRUE(job.tune);
  EXPECT_EQ(job.tune->budget, 1e10);
  EXPECT_EQ(job.tune->tokens_per_param, (std::vector<double>{20, 200}));
  const Variant& gpt = job.variants[0];
  ASSERT_TRUE(gpt.tuned());
  EXPECT_FALSE(job.variants[1].tuned()) << "llama is not in tune.variants";
  ASSERT_EQ(gpt.candidates.size(), 6u);
  // The last key varies fastest; every other key is the variant's own.
  EXPECT_EQ(candidate_label(gpt.candidate_values[0]), "lr 0.001, beta2 0.95");
  EXPECT_EQ(candidate_label(gpt.candidate_values[1]), "lr 0.001, beta2 0.99");
  EXPECT_EQ(candidate_label(gpt.candidate_values[5]), "lr 0.004, beta2 0.999");
  EXPECT_EQ(candidate_tag(gpt.candidate_values[5]), "lr4e-3-beta29.99e-1");
  EXPECT_DOUBLE_EQ(gpt.candidates[4].lr, 4e-3);
  EXPECT_DOUBLE_EQ(gpt.candidates[4].beta2, 0.99);
  const Variant& lstm = job.variants[2];
  ASSERT_EQ(lstm.candidates.size(), 6u);
  EXPECT_DOUBLE_EQ(lstm.candidates[3].weight_decay, 0.0) << "the variant's own recipe under it";
}

TEST(JobSpec, TuneDefaultsToTheSmallestBudgetAndTwentyTokensPerParameterForEveryVariant) {
  const JobSpec job = parse_job_text(std::string(kValid) + "[tune]\nlr = [1e-3, 2e-3]\n", "t.toml");
  ASSERT_TRUE(job.tune);
  EXPECT_EQ(job.tune->budget, 1e10);
  EXPECT_EQ(job.tune->tokens_per_param, (std::vector<double>{20}));
  ASSERT_EQ(job.variants.size(), 1u);
  EXPECT_EQ(job.variants[0].candidates.size(), 2u);
}

TEST(JobSpec, BadTuneTablesAreOneLocatedError) {
  const std::string base = kValid;
  EXPECT_EQ(error_of(base + "[tune]\nlr = [1e-3, 2]\n"),
            "t.toml:21:13: tune.lr = 2: out of range; allowed: a number in (0, 1]")
      << "the same bounds as [train]";
  EXPECT_NE(error_of(base + "[tune]\nlr = [1e-3, 1e-3]\n").find("tune.lr = [0.001, 0.001]: lists 1e-3 twice"),
            std::string::npos);
  EXPECT_NE(error_of(base + "[tune]\nlr = [1e-3]\nwarmup_fraction = [0.01, 0.1]\n")
                .find("tune.warmup_fraction = [0.01, 0.1]: not tuned"),
            std::string::npos);
  EXPECT_NE(error_of(base + "[tune]\nbudget = 1e10\n").find("tune.lr: [tune] lists the recipe values"),
            std::string::npos);
  EXPECT_NE(error_of(base + "[tune]\nlr = [1e-3]\nmomentum = [0.9]\n").find("tune.momentum"),
            std::string::npos);
  EXPECT_NE(error_of(base + "[tune]\nlr = [1e-3]\nvariants = [\"a\"]\n")
                .find("tune.variants = [\"a\"]: only for a job with [[variant]] tables"),
            std::string::npos);
  EXPECT_NE(error_of(base + kVariants + "[tune]\nlr = [1e-3]\nvariants = [\"gpt\", \"rwkv\"]\n")
                .find("tune.variants = \"rwkv\": names no [[variant]]"),
            std::string::npos);
  // llama sets lr itself: tuning it too would say two things.
  EXPECT_NE(error_of(base + kVariants + "[tune]\nlr = [1e-3, 2e-3]\n")
                .find("variant[1].lr = 0.003: tuned by [tune] (tune.lr)"),
            std::string::npos)
      << error_of(base + kVariants + "[tune]\nlr = [1e-3, 2e-3]\n");
  EXPECT_NE(error_of(replaced(base, "batch_tokens = 1024", "batch_tokens = 1024\nlr_rule = \"kaplan\"") +
                     "[tune]\nlr = [1e-3, 2e-3]\n")
                .find("tune.lr = [0.001, 0.002]: lr_rule = \"kaplan\" sets the learning rate from N"),
            std::string::npos);
  EXPECT_NE(error_of(base + "[tune]\nlr = [1e-4, 2e-4, 3e-4, 4e-4, 5e-4, 6e-4, 7e-4, 8e-4, 9e-4]\n"
                            "weight_decay = [0, 0.01, 0.03, 0.1, 0.3, 1, 2, 3]\n")
                .find("the values make 72 candidate recipes; allowed: up to 64"),
            std::string::npos);
  // Found by the grid: a budget too small for its tuning model.
  EXPECT_NE(error_of(base + "[tune]\nlr = [1e-3]\nbudget = 1e6\n").find("t.toml:22:10: tune.budget = 1e6: 1e6 FLOPs give the tuning model"),
            std::string::npos)
      << error_of(base + "[tune]\nlr = [1e-3]\nbudget = 1e6\n");
}

}  // namespace
}  // namespace sweep
