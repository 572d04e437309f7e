// model/fused_ops: the fused CPU RMSNorm and rotary heads give the values and
// gradients of the ATen chains they replace, on one thread and on two, for
// shapes whose rows do not split evenly into tasks, with grouped-query heads,
// and when some outputs take no part in the loss.

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "model/fused_ops.h"
#include "model/llama.h"

namespace sweep {
namespace {

// The largest absolute difference, printed by the assertions.
double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

torch::Tensor reference_rms_norm(const torch::Tensor& x, const torch::Tensor& w, double eps) {
  return x * torch::rsqrt(x.pow(2).mean(-1, /*keepdim=*/true) + eps) * w;
}

class FusedOps : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    threads_ = at::get_num_threads();
    torch::set_num_threads(GetParam());
    torch::manual_seed(3);
  }
  void TearDown() override { torch::set_num_threads(threads_); }
  int threads_ = 1;
};

TEST_P(FusedOps, RmsNormMatchesTheAtenChainInValuesAndGradients) {
  ASSERT_TRUE(fused_ops_enabled());
  // (B, T, C): 3 x 37 rows of 24, 5 x 300 of 64 (several tasks), 2 x 7 of 1000.
  for (const auto& shape : std::vector<std::vector<int64_t>>{{3, 37, 24}, {5, 300, 64}, {2, 7, 1000}}) {
    const torch::Tensor x0 = torch::randn(shape) * 3;
    const torch::Tensor w0 = torch::randn({shape.back()});
    const torch::Tensor g = torch::randn(shape);
    torch::Tensor x = x0.clone().requires_grad_(), w = w0.clone().requires_grad_();
    torch::Tensor xr = x0.clone().requires_grad_(), wr = w0.clone().requires_grad_();
    const torch::Tensor y = rms_norm(x, w, 1e-5);
    const torch::Tensor yr = reference_rms_norm(xr, wr, 1e-5);
    (y * g).sum().backward();
    (yr * g).sum().backward();
    const std::string at = "shape " + std::to_string(shape[1]) + " x " + std::to_string(shape[2]);
    EXPECT_LT(max_diff(y, yr), 1e-5) << at;
    EXPECT_LT(max_diff(x.grad(), xr.grad()), 1e-4) << at;
    EXPECT_LT(max_diff(w.grad(), wr.grad()) / wr.grad().abs().max().item<double>(), 1e-5) << at;
  }
}

TEST_P(FusedOps, RmsNormTakesStridedInputAndAFrozenWeight) {
  const torch::Tensor x0 = torch::randn({40, 6, 32}).transpose(0, 1);  // not contiguous
  const torch::Tensor w = torch::randn({32});                          // no gradient
  torch::Tensor x = x0.clone().requires_grad_(), xr = x0.clone().requires_grad_();
  rms_norm(x.transpose(0, 1), w, 1e-6).pow(2).sum().backward();
  reference_rms_norm(xr.transpose(0, 1), w, 1e-6).pow(2).sum().backward();
  EXPECT_LT(max_diff(x.grad(), xr.grad()), 1e-4);
  torch::NoGradGuard no_grad;
  EXPECT_LT(max_diff(rms_norm(x0, w, 1e-6), reference_rms_norm(x0, w, 1e-6)), 1e-5);
}

// The reference: split the projection into heads and rotate q and k with
// apply_rotary, as the unfused path does.
AttentionHeads reference_heads(const torch::Tensor& qkv, int64_t H, int64_t KV, int64_t hd,
                               const torch::Tensor& cos, const torch::Tensor& sin) {
  const int64_t B = qkv.size(0), T = qkv.size(1);
  const auto parts = qkv.split_with_sizes({H * hd, KV * hd, KV * hd}, 2);
  auto heads = [&](const torch::Tensor& t, int64_t n) {
    return t.view({B, T, n, hd}).transpose(1, 2);
  };
  return {apply_rotary(heads(parts[0], H), cos, sin), apply_rotary(heads(parts[1], KV), cos, sin),
          heads(parts[2], KV)};
}

TEST_P(FusedOps, RotaryHeadsMatchSplitAndRotateInValuesAndGradients) {
  struct Case {
    int64_t B, T, H, KV, hd;
  };
  // Multi-head, grouped-query (2 key/value heads for 8), one key/value head.
  for (const Case& c : {Case{3, 50, 4, 4, 8}, Case{2, 129, 8, 2, 16}, Case{1, 9, 6, 1, 32}}) {
    RotaryTable table(/*seq_len=*/160, c.hd, /*theta=*/10000.0);
    const auto [cos, sin] = table.get(c.T, torch::kCPU);
    const int64_t W = (c.H + 2 * c.KV) * c.hd;
    const torch::Tensor qkv0 = torch::randn({c.B, c.T, W});
    torch::Tensor qkv = qkv0.clone().requires_grad_(), qkvr = qkv0.clone().requires_grad_();
    const AttentionHeads f = rotary_heads(qkv, c.H, c.KV, c.hd, cos, sin);
    const AttentionHeads r = reference_heads(qkvr, c.H, c.KV, c.hd, cos, sin);
    const std::string at = "H " + std::to_string(c.H) + " KV " + std::to_string(c.KV);
    EXPECT_LT(max_diff(f.q, r.q), 1e-6) << at;
    EXPECT_LT(max_diff(f.k, r.k), 1e-6) << at;
    EXPECT_EQ(max_diff(f.v, r.v), 0.0) << at;
    const torch::Tensor gq = torch::randn_like(r.q), gk = torch::randn_like(r.k),
                        gv = torch::randn_like(r.v);
    ((f.q * gq).sum() + (f.k * gk).sum() + (f.v * gv).sum()).backward();
    ((r.q * gq).sum() + (r.k * gk).sum() + (r.v * gv).sum()).backward();
    EXPECT_LT(max_diff(qkv.grad(), qkvr.grad()), 1e-5) << at;
  }
}

TEST_P(FusedOps, RotaryHeadsGiveZeroGradientToAnUnusedOutput) {
  RotaryTable table(/*seq_len=*/16, /*head_dim=*/8, /*theta=*/10000.0);
  const auto [cos, sin] = table.get(16, torch::kCPU);
  torch::Tensor qkv = torch::randn({2, 16, 4 * 8 + 2 * 2 * 8}).requires_grad_();
  const AttentionHeads f = rotary_heads(qkv, 4, 2, 8, cos, sin);
  f.k.sum().backward();  // only the keys reach the loss
  const auto grads = qkv.grad().split_with_sizes({32, 16, 16}, 2);
  EXPECT_EQ(grads[0].abs().max().item<double>(), 0.0);
  EXPECT_EQ(grads[2].abs().max().item<double>(), 0.0);
  // Rotation keeps the norm of each pair: the gradient of sum(k) has norm
  // sqrt(2) per pair, as many pairs as k has pairs.
  EXPECT_NEAR(grads[1].pow(2).sum().item<double>(), double(f.k.numel()), 1e-3);
}

INSTANTIATE_TEST_SUITE_P(Threads, FusedOps, ::testing::Values(1, 2),
                         [](const auto& info) { return std::to_string(info.param) + "Threads"; });

}  // namespace
}  // namespace sweep
