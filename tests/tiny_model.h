#pragma once
// The tiny GPT and training settings that model and MPI tests train on:
// 2 layers of width 32, bytes, 32-token sequences, 8 sequences per step.

#include <memory>
#include <string>

#include "model/counting.h"
#include "model/data.h"
#include "model/train.h"
#include "test_helpers.h"

namespace sweep::testing_helpers {

inline ModelConfig tiny_gpt(bool tied = true) {
  ModelConfig c;
  c.n_layer = 2;
  c.d_model = 32;
  c.n_head = 4;
  c.d_ff = 128;
  c.vocab_size = 256;
  c.seq_len = 32;
  c.tie_embeddings = tied;
  return c;
}

inline TrainConfig tiny_train_config(int64_t steps, uint64_t seed, int64_t warmup_steps) {
  TrainConfig c;
  c.model = tiny_gpt();
  c.steps = steps;
  c.batch_tokens = 8 * 32;
  c.lr = 3e-3;
  c.warmup_steps = warmup_steps;
  c.eval_interval = 20;
  c.eval_tokens = 16 * 32;
  c.log_interval = 1;
  c.seed = seed;
  c.flops_per_token = 6.0 * double(count_params(c.model).total);
  return c;
}

// Byte tokens of `bytes` of English-like text written into `dir`, in
// 32-token sequences with 5% held out: what the model tests train on.
inline std::unique_ptr<TokenData> tiny_corpus(const std::string& dir, int64_t bytes) {
  CorpusSpec spec;
  spec.files = {write_file(dir + "/corpus.txt", english_like_text(bytes))};
  spec.cache_dir = dir + "/cache";
  return std::make_unique<TokenData>(prepare_tokens(spec), 1, 32, 0.05);
}

}  // namespace sweep::testing_helpers
