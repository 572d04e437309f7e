#include "model/moe.h"

#include <cmath>

namespace sweep {
namespace {
namespace F = torch::nn::functional;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Megatron's MoEAuxLossAutoScaler.
struct AuxLossScaler : torch::autograd::Function<AuxLossScaler> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& output,
                               const torch::Tensor& aux, double scale) {
    ctx->save_for_backward({aux});
    ctx->saved_data["scale"] = scale;
    return output;  // returned as a view of itself with this node as its grad_fn
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const torch::Tensor aux = ctx->get_saved_variables()[0];
    const double scale = ctx->saved_data["scale"].toDouble();
    return {grad_outputs[0], torch::full_like(aux, scale), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor attach_aux_loss(const torch::Tensor& output, const torch::Tensor& aux, double scale) {
  return AuxLossScaler::apply(output, aux, scale);
}

ExpertsImpl::ExpertsImpl(int64_t n_experts, int64_t d_model, int64_t d_ff, int64_t n_layer) {
  c_fc = register_parameter("c_fc", torch::empty({n_experts, d_model, d_ff}));
  c_fc2 = register_parameter("c_fc2", torch::empty({n_experts, d_model, d_ff}));
  c_proj = register_parameter("c_proj", torch::empty({n_experts, d_ff, d_model}));
  torch::NoGradGuard no_grad;
  torch::nn::init::normal_(c_fc, 0.0, 0.02);
  torch::nn::init::normal_(c_fc2, 0.0, 0.02);
  torch::nn::init::normal_(c_proj, 0.0, 0.02 / std::sqrt(2.0 * double(n_layer)));
}

MoEImpl::MoEImpl(const ModelConfig& c, const LanguageModel* model)
    : n_experts_(c.n_experts),
      top_k_(c.top_k),
      capacity_factor_(c.capacity_factor),
      aux_loss_coef_(c.aux_loss_coef),
      model_(model) {
  TORCH_CHECK(c.n_experts > 0 && c.top_k > 0 && c.top_k <= c.n_experts, "moe: need 0 < top_k (",
              c.top_k, ") <= n_experts (", c.n_experts, ")");
  router = register_module("router", llama_linear(c.d_model, c.n_experts, 0.02));
  experts = register_module("experts", Experts(c.n_experts, c.d_model, c.d_ff, c.n_layer));
  if (c.n_shared_experts > 0) {
    shared_experts = register_module("shared_experts",
                                     SwiGLU(c.d_model, c.n_shared_experts * c.d_ff, c.n_layer));
  }
}

torch::Tensor MoEImpl::forward(const torch::Tensor& input) {
  const int64_t C = input.size(-1);
  const torch::Tensor x = input.reshape({-1, C});  // (N, C): the micro-batch's tokens
  const int64_t N = x.size(0), E = n_experts_, k = top_k_;

  const torch::Tensor logits = router(x);  // (N, E)
  auto [top_logits, top_expert] = logits.topk(k, /*dim=*/-1);
  const torch::Tensor gates = top_logits.to(torch::kFloat32).softmax(-1);  // (N, k)

  // The N * k choices sorted by expert (stable: within an expert, token order).
  const torch::Tensor choice_expert = top_expert.reshape({-1});  // (N k)
  auto [sorted_expert, order] = choice_expert.sort(/*stable=*/std::optional<bool>(true), /*dim=*/0);
  const torch::Tensor chosen = choice_expert.bincount({}, E);  // (E) int64
  torch::Tensor kept = chosen;
  if (capacity_factor_ > 0) {
    const int64_t capacity =
        int64_t(std::ceil(capacity_factor_ * double(N) * double(k) / double(E)));
    // Position of each sorted choice within its expert's group.
    const torch::Tensor starts = chosen.cumsum(0) - chosen;
    const torch::Tensor rank =
        torch::arange(N * k, order.options()) - starts.index_select(0, sorted_expert);
    const torch::Tensor keep = rank < capacity;
    order = order.masked_select(keep);
    kept = chosen.clamp_max(capacity);
  }
  const torch::Tensor token = order.div(k, "floor");      // the token of each kept choice
  const torch::Tensor routed = x.index_select(0, token);  // (M, C), grouped by expert

  // One SwiGLU per expert on its contiguous slice. unbind: one backward node
  // stacks the experts' gradients into the (E, ., .) parameter at once.
  const std::vector<torch::Tensor> w_gate = experts->c_fc.unbind(0);
  const std::vector<torch::Tensor> w_up = experts->c_fc2.unbind(0);
  const std::vector<torch::Tensor> w_down = experts->c_proj.unbind(0);
  const torch::Tensor counts = kept.cpu();
  const int64_t* count = counts.data_ptr<int64_t>();
  std::vector<torch::Tensor> outputs;
  int64_t start = 0;
  for (int64_t e = 0; e < E; ++e) {
    if (count[e] == 0) continue;
    const torch::Tensor xe = routed.narrow(0, start, count[e]);
    const torch::Tensor hidden = F::silu(xe.mm(w_gate[size_t(e)])) * xe.mm(w_up[size_t(e)]);
    outputs.push_back(hidden.mm(w_down[size_t(e)]));  // (n_e, C)
    start += count[e];
  }
  torch::Tensor y;  // (N, C): each token's gated expert outputs summed
  if (outputs.empty()) {
    y = torch::zeros({N, C}, x.options());
  } else {
    torch::Tensor combined = torch::cat(outputs, 0);  // (M, C)
    const torch::Tensor weight = gates.reshape({-1}).index_select(0, order).unsqueeze(1);
    combined = combined * weight.to(combined.scalar_type());
    y = torch::zeros({N, C}, combined.options()).index_add_(0, token, combined);
  }
  if (shared_experts) y = y + shared_experts(x);
  y = y.view(input.sizes());

  // The aux loss only where backward will use it (not in evaluation, nor in
  // the gradient-free first forward of a checkpointed block).
  if (torch::GradMode::is_enabled() && aux_loss_coef_ > 0) {
    const torch::Tensor mean_probability = logits.to(torch::kFloat32).softmax(-1).mean(0);  // P
    const torch::Tensor fraction = chosen.to(torch::kFloat32) / double(N * k);              // f
    const torch::Tensor aux = double(E) * (fraction * mean_probability).sum();
    last_aux_loss = aux.detach();
    y = attach_aux_loss(y, aux, aux_loss_coef_ * (model_ ? model_->loss_weight() : 1.0));
  }
  return y;
}

}  // namespace sweep
