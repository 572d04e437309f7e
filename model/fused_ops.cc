#include "model/fused_ops.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "model/llama.h"
#include "model/torch_version.h"

namespace sweep {
namespace {
using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Rows per task: about 16K values, the grain ATen's elementwise kernels use
// (at::internal::GRAIN_SIZE is 32K) halved for the passes' two or three
// arrays.
int64_t grain_rows(int64_t row_values) { return std::max<int64_t>(1, 16384 / row_values); }

bool fused_cpu(const Tensor& x) {
  return fused_ops_enabled() && x.device().is_cpu() && x.scalar_type() == torch::kFloat32;
}

struct RmsNormFunction : torch::autograd::Function<RmsNormFunction> {
  static Tensor forward(AutogradContext* ctx, const Tensor& x, const Tensor& weight, double eps) {
    const Tensor input = x.contiguous(), w = weight.contiguous();
    const int64_t C = input.size(-1), rows = input.numel() / C;
    Tensor y = torch::empty_like(input);
    Tensor rstd = torch::empty({rows}, input.options());  // 1 / rms of each row
    const float* xp = input.data_ptr<float>();
    const float* wp = w.data_ptr<float>();
    float* yp = y.data_ptr<float>();
    float* rp = rstd.data_ptr<float>();
    const float epsilon = float(eps);
    at::parallel_for(0, rows, grain_rows(C), [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const float* xr = xp + r * C;
        float* yr = yp + r * C;
        float squares = 0;
#pragma omp simd reduction(+ : squares)
        for (int64_t j = 0; j < C; ++j) squares += xr[j] * xr[j];
        const float rs = 1.0f / std::sqrt(squares / float(C) + epsilon);
        rp[r] = rs;
#pragma omp simd
        for (int64_t j = 0; j < C; ++j) yr[j] = xr[j] * rs * wp[j];
      }
    });
    ctx->save_for_backward({input, w, rstd});
    return y;
  }

  // y_j = w_j x_j rs with rs = (mean(x^2) + eps)^(-1/2):
  //   dx_i = rs (w_i g_i - x_i rs^2 S / C), S = sum_j w_j g_j x_j;
  //   dw_j = sum over rows of g_j x_j rs (a partial sum per thread).
  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const variable_list saved = ctx->get_saved_variables();
    const Tensor &input = saved[0], &w = saved[1], &rstd = saved[2];
    const Tensor g = grad_outputs[0].contiguous();
    const int64_t C = input.size(-1), rows = input.numel() / C;
    const bool want_x = ctx->needs_input_grad(0), want_w = ctx->needs_input_grad(1);
    Tensor dx = want_x ? torch::empty_like(input) : Tensor();
    const int64_t threads = at::get_num_threads();
    Tensor partial = want_w ? torch::zeros({threads, C}, input.options()) : Tensor();
    const float* xp = input.data_ptr<float>();
    const float* wp = w.data_ptr<float>();
    const float* rp = rstd.data_ptr<float>();
    const float* gp = g.data_ptr<float>();
    float* dxp = want_x ? dx.data_ptr<float>() : nullptr;
    float* pp = want_w ? partial.data_ptr<float>() : nullptr;
    at::parallel_for(0, rows, grain_rows(C), [&](int64_t begin, int64_t end) {
      float* dw = want_w ? pp + at::get_thread_num() * C : nullptr;
      for (int64_t r = begin; r < end; ++r) {
        const float* xr = xp + r * C;
        const float* gr = gp + r * C;
        const float rs = rp[r];
        if (want_x) {
          float S = 0;
#pragma omp simd reduction(+ : S)
          for (int64_t j = 0; j < C; ++j) S += wp[j] * gr[j] * xr[j];
          const float coef = rs * rs * S / float(C);
          float* dxr = dxp + r * C;
#pragma omp simd
          for (int64_t j = 0; j < C; ++j) dxr[j] = rs * (wp[j] * gr[j] - xr[j] * coef);
        }
        if (want_w) {
#pragma omp simd
          for (int64_t j = 0; j < C; ++j) dw[j] += gr[j] * xr[j] * rs;
        }
      }
    });
    return {dx.defined() ? dx.view(input.sizes()) : dx, want_w ? partial.sum(0) : Tensor(),
            Tensor()};
  }
};

// Rotates `half` pairs (x[i], x[i + half]) by angles with cos c[i], sin s[i];
// sign -1 rotates back (backward: the transpose of a rotation).
inline void rotate(const float* x, float* out, const float* c, const float* s, int64_t half,
                   float sign) {
#pragma omp simd
  for (int64_t i = 0; i < half; ++i) {
    const float x1 = x[i], x2 = x[i + half], sn = sign * s[i];
    out[i] = x1 * c[i] - x2 * sn;
    out[i + half] = x2 * c[i] + x1 * sn;
  }
}

struct RotaryHeadsFunction : torch::autograd::Function<RotaryHeadsFunction> {
  static variable_list forward(AutogradContext* ctx, const Tensor& qkv, const Tensor& cos,
                               const Tensor& sin, int64_t n_head, int64_t n_kv_head,
                               int64_t head_dim) {
    const Tensor in = qkv.contiguous(), c = cos.contiguous(), s = sin.contiguous();
    const int64_t B = in.size(0), T = in.size(1), W = in.size(2), H = n_head, KV = n_kv_head;
    const int64_t hd = head_dim, half = hd / 2;
    Tensor q = torch::empty({B, H, T, hd}, in.options());
    Tensor k = torch::empty({B, KV, T, hd}, in.options());
    Tensor v = torch::empty({B, KV, T, hd}, in.options());
    const float* ip = in.data_ptr<float>();
    const float *cp = c.data_ptr<float>(), *sp = s.data_ptr<float>();
    float *qp = q.data_ptr<float>(), *kp = k.data_ptr<float>(), *vp = v.data_ptr<float>();
    at::parallel_for(0, B * T, grain_rows(W), [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const int64_t b = r / T, t = r % T;
        const float* src = ip + r * W;
        const float *ct = cp + t * half, *st = sp + t * half;
        for (int64_t h = 0; h < H; ++h)
          rotate(src + h * hd, qp + ((b * H + h) * T + t) * hd, ct, st, half, 1.0f);
        for (int64_t h = 0; h < KV; ++h) {
          rotate(src + (H + h) * hd, kp + ((b * KV + h) * T + t) * hd, ct, st, half, 1.0f);
          std::memcpy(vp + ((b * KV + h) * T + t) * hd, src + (H + KV + h) * hd,
                      size_t(hd) * sizeof(float));
        }
      }
    });
    ctx->save_for_backward({c, s});
    ctx->saved_data["heads"] = n_head;
    ctx->saved_data["kv_heads"] = n_kv_head;
    ctx->saved_data["head_dim"] = head_dim;
    return {q, k, v};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list saved = ctx->get_saved_variables();
    const Tensor &c = saved[0], &s = saved[1];
    const int64_t H = ctx->saved_data["heads"].toInt(), KV = ctx->saved_data["kv_heads"].toInt();
    const int64_t hd = ctx->saved_data["head_dim"].toInt(), half = hd / 2;
    // An output no loss depends on has no gradient: zeros, in its own shape.
    const Tensor& like = grads[0].defined() ? grads[0] : (grads[1].defined() ? grads[1] : grads[2]);
    const int64_t B = like.size(0), T = like.size(2), W = (H + 2 * KV) * hd;
    auto dense = [&](const Tensor& g, int64_t heads) {
      return g.defined() ? g.contiguous() : torch::zeros({B, heads, T, hd}, like.options());
    };
    const Tensor gq = dense(grads[0], H), gk = dense(grads[1], KV), gv = dense(grads[2], KV);
    Tensor grad_in = torch::empty({B, T, W}, gq.options());
    const float *qp = gq.data_ptr<float>(), *kp = gk.data_ptr<float>(), *vp = gv.data_ptr<float>();
    const float *cp = c.data_ptr<float>(), *sp = s.data_ptr<float>();
    float* gp = grad_in.data_ptr<float>();
    at::parallel_for(0, B * T, grain_rows(W), [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const int64_t b = r / T, t = r % T;
        float* dst = gp + r * W;
        const float *ct = cp + t * half, *st = sp + t * half;
        for (int64_t h = 0; h < H; ++h)
          rotate(qp + ((b * H + h) * T + t) * hd, dst + h * hd, ct, st, half, -1.0f);
        for (int64_t h = 0; h < KV; ++h) {
          rotate(kp + ((b * KV + h) * T + t) * hd, dst + (H + h) * hd, ct, st, half, -1.0f);
          std::memcpy(dst + (H + KV + h) * hd, vp + ((b * KV + h) * T + t) * hd,
                      size_t(hd) * sizeof(float));
        }
      }
    });
    return {grad_in, Tensor(), Tensor(), Tensor(), Tensor(), Tensor()};
  }
};

}  // namespace

bool fused_ops_enabled() {
  static const bool enabled = [] {
    const char* v = std::getenv("SWEEP_FUSED_OPS");
    return v == nullptr || std::strcmp(v, "0") != 0;
  }();
  return enabled;
}

Tensor rms_norm(const Tensor& x, const Tensor& weight, double eps) {
  if (fused_cpu(x) && weight.scalar_type() == torch::kFloat32)
    return RmsNormFunction::apply(x, weight, eps);
#if SWEEP_TORCH_AT_LEAST(2, 4)
  return at::rms_norm(x, {weight.size(0)}, weight, eps);
#else
  const Tensor x32 = x.to(torch::kFloat32);
  return (x32 * torch::rsqrt(x32.pow(2).mean(-1, /*keepdim=*/true) + eps)).to(x.dtype()) * weight;
#endif
}

AttentionHeads rotary_heads(const Tensor& qkv, int64_t n_head, int64_t n_kv_head, int64_t head_dim,
                            const Tensor& cos, const Tensor& sin) {
  if (fused_cpu(qkv) && cos.scalar_type() == torch::kFloat32) {
    const variable_list heads =
        RotaryHeadsFunction::apply(qkv, cos, sin, n_head, n_kv_head, head_dim);
    return {heads[0], heads[1], heads[2]};
  }
  const int64_t B = qkv.size(0), T = qkv.size(1), kv = n_kv_head * head_dim;
  const auto parts = qkv.split_with_sizes({n_head * head_dim, kv, kv}, /*dim=*/2);
  auto split = [&](const Tensor& t, int64_t n) {
    return t.view({B, T, n, head_dim}).transpose(1, 2);  // (B, n, T, hd)
  };
  return {apply_rotary(split(parts[0], n_head), cos, sin),
          apply_rotary(split(parts[1], n_kv_head), cos, sin), split(parts[2], n_kv_head)};
}

}  // namespace sweep
