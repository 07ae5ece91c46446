// Optimizer steps and gradient clipping over whole parameter lists, in one native call each.
// The update formulas follow torch.optim (1.13, single-tensor path) operation by operation.
#include "common.h"

#include <ATen/core/grad_mode.h>
#include <cmath>

namespace facesr {

#define ENV info.Env()
#define NUM(i) info[i].As<Napi::Number>().DoubleValue()
#define BOOL(i) info[i].ToBoolean().Value()

// adamStep(params[], expAvg[], expAvgSq[], steps: Float64Array, lr, beta1, beta2, eps, weightDecay, decoupled)
// steps[i] is parameter i's step count; it is incremented here for every parameter that has a gradient.
static Napi::Value AdamStep(const Napi::CallbackInfo& info) {
  at::NoGradGuard ng;
  auto params = TensorList(info[0]);
  auto m = TensorList(info[1]);
  auto v = TensorList(info[2]);
  auto stepsArr = info[3].As<Napi::Float64Array>();
  if (stepsArr.ElementLength() != params.size()) throw Napi::RangeError::New(ENV, "adamStep: steps length mismatch");
  double* steps = stepsArr.Data();
  double lr = NUM(4), b1 = NUM(5), b2 = NUM(6), eps = NUM(7), wd = NUM(8);
  bool decoupled = BOOL(9);
  for (size_t i = 0; i < params.size(); i++) {
    auto& p = params[i];
    at::Tensor grad = p.grad();
    if (!grad.defined()) continue;
    steps[i] += 1;
    if (wd != 0) {
      if (decoupled) p.mul_(1 - lr * wd);
      else grad = grad.add(p, wd);
    }
    m[i].mul_(b1).add_(grad, 1 - b1);
    v[i].mul_(b2).addcmul_(grad, grad, 1 - b2);
    double bc1 = 1 - std::pow(b1, steps[i]);
    double bc2 = 1 - std::pow(b2, steps[i]);
    double stepSize = lr / bc1;
    at::Tensor denom = (v[i].sqrt() / std::sqrt(bc2)).add_(eps);
    p.addcdiv_(m[i], denom, -stepSize);
  }
  return ENV.Undefined();
}

// sgdStep(params[], bufs[] (empty when momentum = 0), steps: Float64Array, lr, momentum, dampening, weightDecay,
//         nesterov). A parameter whose step count is 0 starts its momentum buffer as a copy of its gradient.
static Napi::Value SgdStep(const Napi::CallbackInfo& info) {
  at::NoGradGuard ng;
  auto params = TensorList(info[0]);
  auto bufs = TensorList(info[1]);
  auto stepsArr = info[2].As<Napi::Float64Array>();
  if (stepsArr.ElementLength() != params.size()) throw Napi::RangeError::New(ENV, "sgdStep: steps length mismatch");
  double* steps = stepsArr.Data();
  double lr = NUM(3), momentum = NUM(4), dampening = NUM(5), wd = NUM(6);
  bool nesterov = BOOL(7);
  for (size_t i = 0; i < params.size(); i++) {
    auto& p = params[i];
    at::Tensor d = p.grad();
    if (!d.defined()) continue;
    bool first = steps[i] == 0;
    steps[i] += 1;
    if (wd != 0) d = d.add(p, wd);
    if (momentum != 0) {
      auto& buf = bufs[i];
      if (first) buf.copy_(d);
      else buf.mul_(momentum).add_(d, 1 - dampening);
      d = nesterov ? d.add(buf, momentum) : buf;
    }
    p.add_(d, -lr);
  }
  return ENV.Undefined();
}

// clipGradNorm(params[], maxNorm, normType): scales grads in place; returns the total norm before clipping.
static Napi::Value ClipGradNorm(const Napi::CallbackInfo& info) {
  at::NoGradGuard ng;
  auto params = TensorList(info[0]);
  double maxNorm = NUM(1), p = NUM(2);
  std::vector<at::Tensor> grads;
  for (auto& t : params)
    if (t.grad().defined()) grads.push_back(t.grad());
  if (grads.empty()) return Napi::Number::New(ENV, 0.0);
  at::Tensor total;
  if (std::isinf(p)) {
    std::vector<at::Tensor> norms;
    for (auto& g : grads) norms.push_back(g.detach().abs().max());
    total = norms.size() == 1 ? norms[0] : at::stack(norms).max();
  } else {
    std::vector<at::Tensor> norms;
    for (auto& g : grads) norms.push_back(at::norm(g.detach(), p));
    total = at::norm(at::stack(norms), p);
  }
  at::Tensor coef = (maxNorm / (total + 1e-6)).clamp_max(1.0);
  for (auto& g : grads) g.detach().mul_(coef.to(g.device()));
  return Napi::Number::New(ENV, total.item<double>());
}

// emaUpdate(target[], source[], decay): target = decay * target + (1 - decay) * source
static Napi::Value EmaUpdate(const Napi::CallbackInfo& info) {
  at::NoGradGuard ng;
  auto dst = TensorList(info[0]);
  auto src = TensorList(info[1]);
  double decay = NUM(2);
  for (size_t i = 0; i < dst.size(); i++) {
    if (at::isFloatingType(dst[i].scalar_type())) dst[i].lerp_(src[i].detach(), 1 - decay);
    else dst[i].copy_(src[i]);
  }
  return ENV.Undefined();
}

void RegisterOptim(Napi::Env env, Napi::Object exports) {
  FACESR_EXPORT("adamStep", AdamStep);
  FACESR_EXPORT("sgdStep", SgdStep);
  FACESR_EXPORT("clipGradNorm", ClipGradNorm);
  FACESR_EXPORT("emaUpdate", EmaUpdate);
}

}  // namespace facesr
