#include "model/language_model.h"

#include "common/check.h"
#include "model/gpt.h"
#include "model/llama.h"
#include "model/lstm.h"

namespace sweep {

torch::Tensor LanguageModel::loss(const torch::Tensor& idx, const torch::Tensor& targets) {
  const torch::Tensor logits = forward(idx);
  return torch::nn::functional::cross_entropy(
      logits.view({-1, logits.size(-1)}).to(torch::kFloat32), targets.reshape({-1}));
}

void LanguageModel::register_blocks(std::vector<std::shared_ptr<ModelBlock>> blocks) {
  auto list = register_module("h", torch::nn::ModuleList());
  for (const auto& block : blocks) list->push_back(block);
  blocks_ = std::move(blocks);
}

torch::Tensor LanguageModel::run_blocks(torch::Tensor x) {
  for (size_t i = 0; i < blocks_.size(); ++i)
    x = runner_ ? runner_(int64_t(i), blocks_[i], x) : blocks_[i]->forward(x);
  return x;
}

std::shared_ptr<LanguageModel> make_model(const ModelConfig& config) {
  switch (config.family) {
    case Family::kGpt2: return std::make_shared<GPT>(config);
    case Family::kLlama:  // moe is the llama block with experts for its MLP
    case Family::kMoe: return std::make_shared<Llama>(config);
    case Family::kLstm: return std::make_shared<LSTMModel>(config);
  }
  SWEEP_CHECK(false, std::string("no module for model family ") + to_string(config.family));
  return nullptr;
}

}  // namespace sweep
