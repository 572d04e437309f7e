// The memory model (model/memory.h) and its use on a job's runs
// (spec/memory_plan.h): bytes per stage as the formulas say, sizes parsed
// and printed, the least sharding that fits, the fewest ranks, and the job
// keys. The allocator's side is in test_mpi_sharding.cc.

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "common/error.h"
#include "model/counting.h"
#include "model/memory.h"
#include "spec/grid.h"
#include "spec/job_spec.h"
#include "spec/memory_plan.h"

namespace sweep {
namespace {

// A 16B-class shape (Chinchilla job's largest): 59 x 4736, vocab 50304.
ModelConfig large() {
  ModelConfig m;
  m.n_layer = 59;
  m.d_model = 4736;
  m.n_head = 37;
  m.d_ff = 4 * 4736;
  m.vocab_size = 50304;
  m.seq_len = 2048;
  return m;
}

TEST(Memory, StatesAreSixteenBytesPerParameterDividedAsTheStageSays) {
  const ModelConfig m = large();
  const double P = double(count_params(m).total);
  const double unit = double(largest_unit_params(m));
  MemoryOptions o;
  o.ranks = 8;
  o.sharding = Sharding::kNone;
  MemoryEstimate e = estimate_memory(m, o);
  EXPECT_DOUBLE_EQ(e.parameters + e.gradients + e.optimizer, 16 * P);
  o.sharding = Sharding::kOptimizer;
  e = estimate_memory(m, o);
  EXPECT_DOUBLE_EQ(e.parameters + e.gradients + e.optimizer, 8 * P + 12 * P / 8);
  o.sharding = Sharding::kGradients;
  e = estimate_memory(m, o);
  // Full parameters, the shard's gradient and moments, and at most two units' gradients.
  EXPECT_GT(e.parameters + e.gradients + e.optimizer, 4 * P + 12 * P / 8);
  EXPECT_LT(e.parameters + e.gradients + e.optimizer, 4 * P + 12 * P / 8 + 8 * unit);
  o.sharding = Sharding::kParameters;
  e = estimate_memory(m, o);
  EXPECT_GT(e.parameters + e.gradients + e.optimizer, 16 * P / 8);
  EXPECT_LT(e.parameters + e.gradients + e.optimizer, 16 * P / 8 + 16 * unit);
  EXPECT_DOUBLE_EQ(e.optimizer, 8 * P / 8);
}

TEST(Memory, ActivationsScaleWithTheMicroBatchAndCheckpointingKeepsBlockInputs) {
  const ModelConfig m = large();
  MemoryOptions o;
  o.cuda = true;
  o.micro_batch_sequences = 1;
  const double one = estimate_memory(m, o).activations;
  o.micro_batch_sequences = 8;
  EXPECT_DOUBLE_EQ(estimate_memory(m, o).activations, 8 * one);
  o.activation_checkpointing = true;
  const double kept = estimate_memory(m, o).activations;
  EXPECT_LT(kept, 8 * one / 3);
  // Per token and block, only the residual input (fp32) stays, plus one block and the head.
  const double tokens = 8.0 * 2048;
  EXPECT_GT(kept, tokens * 59 * 4 * 4736);
}

ModelConfig llama_like(Family family, int64_t n_kv_head) {
  ModelConfig m = large();
  m.family = family;
  m.n_layer = 32;
  m.d_model = 4096;
  m.n_head = 32;
  m.n_kv_head = n_kv_head;
  m.d_ff = 14336;
  m.vocab_size = 32000;
  m.tie_embeddings = false;
  if (family == Family::kMoe) {
    m.n_experts = 8;
    m.top_k = 2;
  }
  return m;
}

TEST(Memory, EveryFamilysStateIsSixteenBytesPerParameterAndItsBlocksAreTheUnits) {
  for (const Family family : {Family::kLlama, Family::kMoe, Family::kLstm}) {
    ModelConfig m = llama_like(family, 8);
    if (family == Family::kLstm) m.d_ff = 0;
    const double P = double(count_params(m).total);  // every expert's, not the active ones
    MemoryOptions o;
    const MemoryEstimate e = estimate_memory(m, o);
    EXPECT_DOUBLE_EQ(e.parameters + e.gradients + e.optimizer, 16 * P) << to_string(family);
    EXPECT_EQ(
        largest_unit_params(m),
        std::max(params_per_block(m), count_params(m).total - m.n_layer * params_per_block(m)))
        << to_string(family);
  }
  // Mixtral's block holds its eight experts: 1.45B parameters, the unit stage 3 gathers.
  EXPECT_EQ(largest_unit_params(llama_like(Family::kMoe, 8)), 1451270144);
}

TEST(Memory, ActivationsFollowEachFamilysSavedTensors) {
  MemoryOptions o;
  o.cuda = true;
  // GQA's narrower keys and values save less than multi-head attention.
  const double gqa = estimate_memory(llama_like(Family::kLlama, 8), o).activations;
  const double mha = estimate_memory(llama_like(Family::kLlama, 32), o).activations;
  const double tokens = 2048, L = 32, kv_saved = 3.0 * (4096 - 1024) * 2;  // 3 kv values in bf16
  EXPECT_DOUBLE_EQ(mha - gqa, tokens * L * kv_saved);
  // SwiGLU keeps 4 d_ff values per token where GELU keeps 2; rotary
  // embeddings keep the rotated query and key (2 d_model).
  ModelConfig gpt = llama_like(Family::kLlama, 32);
  gpt.family = Family::kGpt2;
  const double gelu = estimate_memory(gpt, o).activations;
  EXPECT_DOUBLE_EQ(mha - gelu, tokens * L * (2 * 14336 + 2 * 4096) * 2);
  // A mixture of experts saves per routed copy: top_k matters, n_experts barely.
  ModelConfig moe = llama_like(Family::kMoe, 8);
  const double top2 = estimate_memory(moe, o).activations;
  moe.top_k = 1;
  const double top1 = estimate_memory(moe, o).activations;
  EXPECT_DOUBLE_EQ(top2 - top1, tokens * L * (2 * 4096 + 4 * 14336) * 2);
  moe.top_k = 2;
  moe.n_experts = 64;
  EXPECT_LT(estimate_memory(moe, o).activations / top2, 1.01);
  // On CPU only the heads are saved (the projection's output is not), and
  // grouped keys and values are repeated to every head for the attention
  // kernel: GQA saves what multi-head attention does, and d + 2 kv less per
  // token than on CUDA (in fp32 there).
  o.cuda = false;
  const double cpu_gqa = estimate_memory(llama_like(Family::kLlama, 8), o).activations;
  const double cpu_mha = estimate_memory(llama_like(Family::kLlama, 32), o).activations;
  EXPECT_DOUBLE_EQ(cpu_mha, cpu_gqa);
  // The 3 d heads are what gpt2 saves of q/k/v: SwiGLU's 2 d_ff more is the difference.
  const double cpu_gelu = estimate_memory(gpt, o).activations;
  EXPECT_DOUBLE_EQ(cpu_mha - cpu_gelu, tokens * L * (2 * 14336) * 4);
  // An LSTM's saved values grow with its width only (no d_ff).
  ModelConfig lstm = llama_like(Family::kLstm, 0);
  lstm.d_ff = 0;
  const double narrow = estimate_memory(lstm, o).activations;
  lstm.d_ff = 100000;  // ignored
  EXPECT_DOUBLE_EQ(estimate_memory(lstm, o).activations, narrow);
}

TEST(Memory, SizesParseInDecimalAndBinaryUnits) {
  EXPECT_DOUBLE_EQ(*parse_bytes("80GB"), 80e9);
  EXPECT_DOUBLE_EQ(*parse_bytes("40 GiB"), 40.0 * 1024 * 1024 * 1024);
  EXPECT_DOUBLE_EQ(*parse_bytes("512mb"), 512e6);
  EXPECT_DOUBLE_EQ(*parse_bytes("1.5TB"), 1.5e12);
  EXPECT_FALSE(parse_bytes("80 gigs"));
  EXPECT_FALSE(parse_bytes("-1GB"));
  EXPECT_FALSE(parse_bytes("GB"));
  EXPECT_EQ(format_bytes(254e9), "254 GB");
  EXPECT_EQ(format_bytes(3.14e6), "3.14 MB");
}

const char* kJob = R"([sweep]
name = "m"
[data]
corpus = "/nonexistent/corpus.txt"
seq_len = 2048
vocab_size = 50304
tokenizer = "u16"
[grid]
budgets = [3e21]
params = [16e9]
[model]
aspect_ratio = 80
head_dim = 128
[train]
batch_tokens = 524288
micro_batch_tokens = 16384
[resources]
ranks_per_run = 8
device = "cuda"
memory_per_rank = "80GB"
)";

TEST(Memory, AutoShardingTakesTheLeastThatFitsAndSaysWhatWouldFitOtherwise) {
  const JobSpec job = parse_job_text(kJob, "m.toml");
  EXPECT_DOUBLE_EQ(job.resources.memory_per_rank, 80e9);
  EXPECT_FALSE(job.resources.sharding);  // "auto"
  const Grid grid = expand_grid(job);
  ASSERT_EQ(grid.runs.size(), 1u);
  const RunSpec& run = grid.runs[0];
  // 16B parameters with 8 sequences of activations do not fit 80 GB on 8 ranks...
  const MemoryChoice on8 = choose_sharding(job, run, 8, 80e9, true);
  EXPECT_FALSE(on8.fits);
  EXPECT_EQ(on8.sharding, Sharding::kParameters);
  const std::string how = how_to_fit(job, run, 8, 80e9, true);
  EXPECT_NE(how.find("train.activation_checkpointing = true"), std::string::npos) << how;
  // ...and do on more ranks, fully sharded; without a limit anything fits unsharded.
  const int64_t fewest = fewest_ranks_that_fit(job, run, 256, 80e9, true);
  EXPECT_GT(fewest, 8);
  EXPECT_EQ(choose_sharding(job, run, fewest, 80e9, true).sharding, Sharding::kParameters);
  EXPECT_EQ(choose_sharding(job, run, 8, 0, true).sharding, Sharding::kNone);
  EXPECT_EQ(ranks_needed(job, run, 80e9, true), fewest);
}

TEST(Memory, JobKeysAreCheckedWhereTheyAreWritten) {
  auto error_of = [](const std::string& text) -> std::string {
    try {
      parse_job_text(text, "m.toml");
    } catch (const UserError& e) {
      return e.what();
    }
    return "(no error)";
  };
  std::string job = kJob;
  std::string bad = job;
  bad.replace(bad.find("\"80GB\""), 6, "\"80 gigs\"");
  const std::string e = error_of(bad);
  EXPECT_NE(e.find("m.toml:20:19:"), std::string::npos) << e;
  EXPECT_NE(e.find("resources.memory_per_rank"), std::string::npos) << e;
  const std::string s = error_of(job + "sharding = \"zero3\"\n");
  EXPECT_NE(s.find("resources.sharding"), std::string::npos) << s;
  EXPECT_NE(s.find("\"parameters\""), std::string::npos) << s;
  const JobSpec sharded = parse_job_text(job + "sharding = \"optimizer\"\n", "m.toml");
  EXPECT_EQ(sharded.resources.sharding, Sharding::kOptimizer);
  std::string checkpointed = job;
  checkpointed.replace(checkpointed.find("[resources]"), 11,
                       "activation_checkpointing = true\n[resources]");
  EXPECT_TRUE(parse_job_text(checkpointed, "m.toml").train.activation_checkpointing);
}

}  // namespace
}  // namespace sweep
