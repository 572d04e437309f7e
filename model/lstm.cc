#include "model/lstm.h"

#include <cmath>

namespace sweep {
namespace F = torch::nn::functional;

LSTMBlock::LSTMBlock(const ModelConfig& c, int64_t index) : residual_(index > 0) {
  const int64_t d = c.d_model;
  weight_ih = register_parameter("weight_ih", torch::empty({4 * d, d}));
  weight_hh = register_parameter("weight_hh", torch::empty({4 * d, d}));
  bias_ih = register_parameter("bias_ih", torch::empty({4 * d}));
  bias_hh = register_parameter("bias_hh", torch::empty({4 * d}));
  // torch.nn.LSTM's reset_parameters: every weight and bias ~ U(-1/sqrt(d), 1/sqrt(d)).
  const double bound = 1.0 / std::sqrt(double(d));
  torch::NoGradGuard no_grad;
  for (auto* p : {&weight_ih, &weight_hh, &bias_ih, &bias_hh}) p->uniform_(-bound, bound);
}

torch::Tensor LSTMBlock::forward(const torch::Tensor& x) {
  const int64_t B = x.size(0), d = x.size(2);
  const torch::Tensor zeros = torch::zeros({1, B, d}, x.options());  // h_0 = c_0 = 0
  auto [y, h_n, c_n] = at::lstm(x, {zeros, zeros}, {weight_ih, weight_hh, bias_ih, bias_hh},
                                /*has_biases=*/true, /*num_layers=*/1, /*dropout=*/0.0,
                                /*train=*/torch::GradMode::is_enabled(),
                                /*bidirectional=*/false, /*batch_first=*/true);
  return residual_ ? x + y : y;  // (B, T, C)
}

LSTMModel::LSTMModel(const ModelConfig& c) : LanguageModel(c) {
  TORCH_CHECK(c.family == Family::kLstm, "LSTMModel builds the lstm family");
  wte = register_module("wte", torch::nn::Embedding(c.vocab_size, c.d_model));
  {
    torch::NoGradGuard no_grad;
    torch::nn::init::normal_(wte->weight, 0.0, 0.02);
  }
  std::vector<std::shared_ptr<ModelBlock>> blocks;
  for (int64_t i = 0; i < c.n_layer; ++i) blocks.push_back(std::make_shared<LSTMBlock>(c, i));
  register_blocks(std::move(blocks));
  ln_f = register_module("ln_f",
                         torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.d_model}).eps(1e-5)));
  if (!c.tie_embeddings) {
    lm_head = register_module(
        "lm_head",
        torch::nn::Linear(torch::nn::LinearOptions(c.d_model, c.vocab_size).bias(false)));
    torch::NoGradGuard no_grad;
    torch::nn::init::normal_(lm_head->weight, 0.0, 0.02);
  }
}

torch::Tensor LSTMModel::forward(const torch::Tensor& idx) {
  const ModelConfig& c = config();
  torch::Tensor x = ln_f(run_blocks(wte(idx)));                      // (B, T, C)
  return c.tie_embeddings ? F::linear(x, wte->weight) : lm_head(x);  // (B, T, V)
}

}  // namespace sweep
