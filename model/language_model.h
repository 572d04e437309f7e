#pragma once
// The interface every model family's LibTorch module implements, so that the
// training loop, the sharded state (model/sharded_state.h) and activation
// checkpointing know no family: a model is an outer part (embeddings, final
// norm, head) around a stack of blocks, each block a map (B, T, C) -> (B, T, C).
// Units of sharding and of recomputation are the blocks.
//
// Families (model/config.h): gpt2 (model/gpt.h), llama and moe
// (model/llama.h), lstm (model/lstm.h). make_model() builds the one a config
// names; every built model's parameter count equals count_params() of its
// config (model/counting.h; tests/test_model.cc and tests/test_families.cc).

#include <torch/torch.h>

#include <functional>
#include <memory>
#include <vector>

#include "model/config.h"

namespace sweep {

class ModelBlock : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(const torch::Tensor& x) = 0;  // (B, T, C) -> (B, T, C)
};

class LanguageModel : public torch::nn::Module {
 public:
  explicit LanguageModel(const ModelConfig& config) : config_(config) {}

  // idx: (B, T) int64 token ids, T <= seq_len. Returns logits (B, T, vocab).
  virtual torch::Tensor forward(const torch::Tensor& idx) = 0;
  // Mean cross-entropy in nats per token of next-token prediction. A family
  // with an auxiliary loss (moe) adds its gradient in backward, weighted by
  // loss_weight() (the loss is what records and evaluations report).
  torch::Tensor loss(const torch::Tensor& idx, const torch::Tensor& targets);

  // The weight the training loop gives each forward's loss in backward
  // (1 / micro-batches per step): auxiliary losses get the same weight.
  void set_loss_weight(double weight) { loss_weight_ = weight; }
  double loss_weight() const { return loss_weight_; }

  const ModelConfig& config() const { return config_; }
  const std::vector<std::shared_ptr<ModelBlock>>& blocks() const { return blocks_; }

  // How forward runs block `index` on x: block(x) unless a runner is set
  // (the sharded state gathers a block's parameters around it, and
  // activation checkpointing recomputes it in backward: model/sharded_state.h).
  using BlockRunner = std::function<torch::Tensor(
      int64_t index, const std::shared_ptr<ModelBlock>& block, const torch::Tensor& x)>;
  void set_block_runner(BlockRunner runner) { runner_ = std::move(runner); }

 protected:
  // Registers the blocks as the ModuleList "h" (h.0, h.1, ...: nanoGPT's names).
  void register_blocks(std::vector<std::shared_ptr<ModelBlock>> blocks);
  torch::Tensor run_blocks(torch::Tensor x);

 private:
  ModelConfig config_;
  std::vector<std::shared_ptr<ModelBlock>> blocks_;
  BlockRunner runner_;
  double loss_weight_ = 1.0;
};

// The model `config` describes, initialised from LibTorch's global generator
// (seed it first).
std::shared_ptr<LanguageModel> make_model(const ModelConfig& config);

}  // namespace sweep
