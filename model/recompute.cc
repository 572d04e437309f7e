#include "model/recompute.h"

#include <ATen/autocast_mode.h>

#include <utility>

#include "model/torch_version.h"

namespace sweep {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

#if SWEEP_TORCH_AT_LEAST(2, 4)
bool cuda_autocast() { return at::autocast::is_autocast_enabled(at::kCUDA); }
void set_cuda_autocast(bool on) { at::autocast::set_autocast_enabled(at::kCUDA, on); }
#else
bool cuda_autocast() { return at::autocast::is_enabled(); }
void set_cuda_autocast(bool on) { at::autocast::set_enabled(on); }
#endif

// The function to run again, carried in the autograd context.
struct Recomputable : torch::CustomClassHolder {
  std::function<torch::Tensor(const torch::Tensor&)> f;
  bool autocast = false;
};

struct Recompute : torch::autograd::Function<Recompute> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x,
                               c10::intrusive_ptr<Recomputable> fn) {
    ctx->save_for_backward({x});
    fn->autocast = cuda_autocast();
    torch::Tensor y;
    {
      torch::NoGradGuard no_grad;
      y = fn->f(x);
    }
    ctx->saved_data["fn"] = c10::IValue::make_capsule(std::move(fn));
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const torch::Tensor x = ctx->get_saved_variables()[0].detach().requires_grad_(true);
    auto fn = c10::static_intrusive_pointer_cast<Recomputable>(ctx->saved_data["fn"].toCapsule());
    // Backward may run on another thread (CUDA's device threads): the
    // forward's autocast state is set for the recomputation and restored.
    const bool was = cuda_autocast();
    set_cuda_autocast(fn->autocast);
    torch::Tensor y;
    {
      torch::AutoGradMode grad(true);
      y = fn->f(x);
    }
    set_cuda_autocast(was);
    // Reentrant backward through the recomputed block: parameter gradients
    // accumulate into .grad; x's gradient goes back to the outer graph.
    torch::autograd::backward({y}, {grad_outputs[0]});
    return {x.grad(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor recompute_in_backward(std::function<torch::Tensor(const torch::Tensor&)> f,
                                    const torch::Tensor& x) {
  auto fn = c10::make_intrusive<Recomputable>();
  fn->f = std::move(f);
  return Recompute::apply(x, std::move(fn));
}

}  // namespace sweep
