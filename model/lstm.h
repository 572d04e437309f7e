#pragma once
// The lstm family: a stacked LSTM language model, the recurrent baseline
// Kaplan et al. 2020 (section 3.2.1) scale against transformers. Token
// embedding wte (vocab x d_model), n_layer LSTM layers of d_model units as
// the blocks h.0 ... h.{n_layer-1}, a final LayerNorm ln_f, and the head tied
// to wte unless the config unties it (lm_head).
//
// Each block is one layer with torch.nn.LSTM's parameters (weight_ih,
// weight_hh: (4 d, d), gates in the order input, forget, cell, output;
// bias_ih, bias_hh: (4 d)) and PyTorch's initialisation (uniform in
// +-1/sqrt(d)), run over the whole sequence by ATen's fused at::lstm from a
// zero state (batch first). There is no carried state between sequences:
// each training sequence starts fresh, like the transformers' contexts.
//
// Residuals: every layer after the first adds its input to its output
// (y = x + LSTM(x)), as GNMT's deep stacks do (Wu et al. 2016); without
// them stacks deeper than a few layers train poorly. The first layer has
// none: its input is the embedding, on another scale than the LSTM's
// bounded outputs. A one-layer model is the plain LSTM.
//
// The model's parameter count equals count_params() in model/counting.h
// (tests/test_families.cc).

#include <torch/torch.h>

#include "model/language_model.h"

namespace sweep {

class LSTMBlock : public ModelBlock {
 public:
  LSTMBlock(const ModelConfig& config, int64_t index);
  torch::Tensor forward(const torch::Tensor& x) override;  // (B, T, C) -> (B, T, C)

  torch::Tensor weight_ih, weight_hh;  // (4C, C)
  torch::Tensor bias_ih, bias_hh;      // (4C)

 private:
  bool residual_;
};

class LSTMModel : public LanguageModel {
 public:
  // Initialises weights from LibTorch's global generator (seed it first).
  explicit LSTMModel(const ModelConfig& config);
  torch::Tensor forward(const torch::Tensor& idx) override;

  torch::nn::Embedding wte{nullptr};  // (vocab, C)
  torch::nn::LayerNorm ln_f{nullptr};
  torch::nn::Linear lm_head{nullptr};  // only when untied; tied models use wte.weight
};

}  // namespace sweep
