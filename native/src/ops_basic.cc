// Element-wise arithmetic, activations, comparisons, reductions, matmul, in-place updates.
#include "common.h"

namespace facesr {

#define T0 Unwrap(info[0], "input")
#define T1 Unwrap(info[1], "other")
#define ENV info.Env()
#define NUM(i) info[i].As<Napi::Number>().DoubleValue()
#define INT(i) info[i].As<Napi::Number>().Int64Value()
#define BOOL(i) info[i].ToBoolean().Value()

#define UNARY(NAME, EXPR)                                   \
  static Napi::Value NAME(const Napi::CallbackInfo& info) { \
    const at::Tensor& x = T0;                               \
    return Wrap(ENV, EXPR);                                 \
  }
UNARY(Neg, at::neg(x))
UNARY(Abs, at::abs(x))
UNARY(Exp, at::exp(x))
UNARY(Log, at::log(x))
UNARY(Log1p, at::log1p(x))
UNARY(Expm1, at::expm1(x))
UNARY(Sqrt, at::sqrt(x))
UNARY(Rsqrt, at::rsqrt(x))
UNARY(Square, at::square(x))
UNARY(Reciprocal, at::reciprocal(x))
UNARY(Sin, at::sin(x))
UNARY(Cos, at::cos(x))
UNARY(Tanh, at::tanh(x))
UNARY(Sigmoid, at::sigmoid(x))
UNARY(Relu, at::relu(x))
UNARY(Sign, at::sign(x))
UNARY(Floor, at::floor(x))
UNARY(Ceil, at::ceil(x))
UNARY(Round, at::round(x))
UNARY(Erf, at::erf(x))
UNARY(Silu, at::silu(x))
UNARY(Gelu, at::gelu(x))
UNARY(LogicalNot, at::logical_not(x))
UNARY(IsNan, at::isnan(x))
UNARY(IsFinite, at::isfinite(x))

static Napi::Value LeakyRelu(const Napi::CallbackInfo& info) { return Wrap(ENV, at::leaky_relu(T0, NUM(1))); }
static Napi::Value Prelu(const Napi::CallbackInfo& info) { return Wrap(ENV, at::prelu(T0, T1)); }
static Napi::Value Softplus(const Napi::CallbackInfo& info) { return Wrap(ENV, at::softplus(T0, NUM(1), NUM(2))); }
static Napi::Value Elu(const Napi::CallbackInfo& info) { return Wrap(ENV, at::elu(T0, NUM(1))); }
static Napi::Value Hardtanh(const Napi::CallbackInfo& info) { return Wrap(ENV, at::hardtanh(T0, NUM(1), NUM(2))); }
static Napi::Value Softmax(const Napi::CallbackInfo& info) { return Wrap(ENV, at::softmax(T0, INT(1))); }
static Napi::Value LogSoftmax(const Napi::CallbackInfo& info) { return Wrap(ENV, at::log_softmax(T0, INT(1))); }

// Binary ops accept a tensor or a number as the second operand (broadcasting like PyTorch).
#define BINARY(NAME, TT, TS)                                \
  static Napi::Value NAME(const Napi::CallbackInfo& info) { \
    const at::Tensor& a = T0;                               \
    if (info[1].IsNumber() || info[1].IsBoolean()) {        \
      at::Scalar s = ToScalar(info[1]);                     \
      return Wrap(ENV, TS);                                 \
    }                                                       \
    const at::Tensor& b = T1;                               \
    return Wrap(ENV, TT);                                   \
  }
BINARY(Add, at::add(a, b), at::add(a, s))
BINARY(Sub, at::sub(a, b), at::sub(a, s))
BINARY(Mul, at::mul(a, b), at::mul(a, s))
BINARY(Div, at::div(a, b), at::div(a, s))
BINARY(Pow, at::pow(a, b), at::pow(a, s))
BINARY(Remainder, at::remainder(a, b), at::remainder(a, s))
BINARY(Maximum, at::maximum(a, b), at::clamp_min(a, s))
BINARY(Minimum, at::minimum(a, b), at::clamp_max(a, s))
BINARY(Eq, at::eq(a, b), at::eq(a, s))
BINARY(Ne, at::ne(a, b), at::ne(a, s))
BINARY(Lt, at::lt(a, b), at::lt(a, s))
BINARY(Le, at::le(a, b), at::le(a, s))
BINARY(Gt, at::gt(a, b), at::gt(a, s))
BINARY(Ge, at::ge(a, b), at::ge(a, s))
BINARY(LogicalAnd, at::logical_and(a, b), at::logical_and(a, at::scalar_tensor(s, a.options())))
BINARY(LogicalOr, at::logical_or(a, b), at::logical_or(a, at::scalar_tensor(s, a.options())))

static Napi::Value Atan2(const Napi::CallbackInfo& info) { return Wrap(ENV, at::atan2(T0, T1)); }
// rsub(a, s) = s - a
static Napi::Value Rsub(const Napi::CallbackInfo& info) { return Wrap(ENV, at::rsub(T0, ToScalar(info[1]))); }
// add with alpha: a + alpha * b
static Napi::Value AddScaled(const Napi::CallbackInfo& info) { return Wrap(ENV, at::add(T0, T1, ToScalar(info[2]))); }

static Napi::Value Where(const Napi::CallbackInfo& info) {
  const at::Tensor& c = Unwrap(info[0], "condition");
  bool an = info[1].IsNumber(), bn = info[2].IsNumber();
  if (an && bn) return Wrap(ENV, at::where(c, ToScalar(info[1]), ToScalar(info[2])));
  if (an) return Wrap(ENV, at::where(c, ToScalar(info[1]), Unwrap(info[2])));
  if (bn) return Wrap(ENV, at::where(c, Unwrap(info[1]), ToScalar(info[2])));
  return Wrap(ENV, at::where(c, Unwrap(info[1]), Unwrap(info[2])));
}

static Napi::Value Clamp(const Napi::CallbackInfo& info) {
  c10::optional<at::Scalar> lo, hi;
  if (info[1].IsNumber()) lo = ToScalar(info[1]);
  if (info[2].IsNumber()) hi = ToScalar(info[2]);
  return Wrap(ENV, at::clamp(T0, lo, hi));
}

static Napi::Value Lerp(const Napi::CallbackInfo& info) { return Wrap(ENV, at::lerp(T0, T1, ToScalar(info[2]))); }

// ---- reductions: (x, dims | null, keepdim) ----
#define REDUCE(NAME, ALL, DIMS)                                                  \
  static Napi::Value NAME(const Napi::CallbackInfo& info) {                      \
    const at::Tensor& x = T0;                                                    \
    if (info[1].IsUndefined() || info[1].IsNull()) return Wrap(ENV, ALL);        \
    std::vector<int64_t> dims = IntList(info[1], "dims");                        \
    bool keep = BOOL(2);                                                         \
    return Wrap(ENV, DIMS);                                                      \
  }
REDUCE(Sum, at::sum(x), at::sum(x, dims, keep))
REDUCE(Mean, at::mean(x), at::mean(x, dims, keep))
REDUCE(Amax, at::amax(x), at::amax(x, dims, keep))
REDUCE(Amin, at::amin(x), at::amin(x, dims, keep))
REDUCE(Logsumexp, at::logsumexp(x, at::IntArrayRef{}), at::logsumexp(x, dims, keep))

static Napi::Value Prod(const Napi::CallbackInfo& info) {
  if (info[1].IsUndefined() || info[1].IsNull()) return Wrap(ENV, at::prod(T0));
  return Wrap(ENV, at::prod(T0, INT(1), BOOL(2)));
}
// var/std(x, dims|null, correction(0|1), keepdim)
static Napi::Value Var(const Napi::CallbackInfo& info) {
  auto dims = OptIntList(info[1]);
  return Wrap(ENV, at::var(T0, dims ? at::OptionalIntArrayRef(*dims) : at::OptionalIntArrayRef(), c10::optional<int64_t>(INT(2)), BOOL(3)));
}
static Napi::Value Std(const Napi::CallbackInfo& info) {
  auto dims = OptIntList(info[1]);
  return Wrap(ENV, at::std(T0, dims ? at::OptionalIntArrayRef(*dims) : at::OptionalIntArrayRef(), c10::optional<int64_t>(INT(2)), BOOL(3)));
}
// norm(x, p, dims|null, keepdim)
static Napi::Value Norm(const Napi::CallbackInfo& info) {
  auto dims = OptIntList(info[2]);
  if (!dims) return Wrap(ENV, at::norm(T0, ToScalar(info[1])));
  return Wrap(ENV, at::norm(T0, ToScalar(info[1]), *dims, BOOL(3)));
}
// max/min along a dim: [values, indices]
static Napi::Value MaxDim(const Napi::CallbackInfo& info) {
  auto r = at::max(T0, INT(1), BOOL(2));
  return WrapList(ENV, {std::get<0>(r), std::get<1>(r)});
}
static Napi::Value MinDim(const Napi::CallbackInfo& info) {
  auto r = at::min(T0, INT(1), BOOL(2));
  return WrapList(ENV, {std::get<0>(r), std::get<1>(r)});
}
static Napi::Value Argmax(const Napi::CallbackInfo& info) {
  if (info[1].IsUndefined() || info[1].IsNull()) return Wrap(ENV, at::argmax(T0, c10::nullopt, BOOL(2)));
  return Wrap(ENV, at::argmax(T0, INT(1), BOOL(2)));
}
static Napi::Value Argmin(const Napi::CallbackInfo& info) {
  if (info[1].IsUndefined() || info[1].IsNull()) return Wrap(ENV, at::argmin(T0, c10::nullopt, BOOL(2)));
  return Wrap(ENV, at::argmin(T0, INT(1), BOOL(2)));
}
static Napi::Value All(const Napi::CallbackInfo& info) { return Wrap(ENV, at::all(T0)); }
static Napi::Value Any(const Napi::CallbackInfo& info) { return Wrap(ENV, at::any(T0)); }
// topk(x, k, dim, largest, sorted) -> [values, indices]
static Napi::Value Topk(const Napi::CallbackInfo& info) {
  auto r = at::topk(T0, INT(1), INT(2), BOOL(3), BOOL(4));
  return WrapList(ENV, {std::get<0>(r), std::get<1>(r)});
}
// sort(x, dim, descending, stable) -> [values, indices]
static Napi::Value Sort(const Napi::CallbackInfo& info) {
  auto r = at::sort(T0, BOOL(3), INT(1), BOOL(2));
  return WrapList(ENV, {std::get<0>(r), std::get<1>(r)});
}
static Napi::Value Cumsum(const Napi::CallbackInfo& info) { return Wrap(ENV, at::cumsum(T0, INT(1))); }

// ---- linear algebra ----
static Napi::Value Matmul(const Napi::CallbackInfo& info) { return Wrap(ENV, at::matmul(T0, T1)); }
static Napi::Value Linear(const Napi::CallbackInfo& info) {
  return Wrap(ENV, at::linear(T0, Unwrap(info[1], "weight"), OptTensor(info[2])));
}
static Napi::Value Mv(const Napi::CallbackInfo& info) { return Wrap(ENV, at::mv(T0, T1)); }
static Napi::Value Dot(const Napi::CallbackInfo& info) { return Wrap(ENV, at::dot(T0, T1)); }
static Napi::Value Outer(const Napi::CallbackInfo& info) { return Wrap(ENV, at::outer(T0, T1)); }

// ---- in-place updates (on tensors that do not need grad, or inside no-grad) ----
static Napi::Value AddInplace(const Napi::CallbackInfo& info) {
  at::Tensor& a = T0;
  at::Scalar alpha = info.Length() > 2 && info[2].IsNumber() ? ToScalar(info[2]) : at::Scalar(1);
  if (info[1].IsNumber()) a.add_(ToScalar(info[1]), alpha); else a.add_(T1, alpha);
  return info[0];
}
static Napi::Value MulInplace(const Napi::CallbackInfo& info) {
  at::Tensor& a = T0;
  if (info[1].IsNumber()) a.mul_(ToScalar(info[1])); else a.mul_(T1);
  return info[0];
}
static Napi::Value DivInplace(const Napi::CallbackInfo& info) {
  at::Tensor& a = T0;
  if (info[1].IsNumber()) a.div_(ToScalar(info[1])); else a.div_(T1);
  return info[0];
}
static Napi::Value CopyInplace(const Napi::CallbackInfo& info) {
  T0.copy_(T1);
  return info[0];
}
static Napi::Value FillInplace(const Napi::CallbackInfo& info) {
  T0.fill_(ToScalar(info[1]));
  return info[0];
}
static Napi::Value ClampInplace(const Napi::CallbackInfo& info) {
  c10::optional<at::Scalar> lo, hi;
  if (info[1].IsNumber()) lo = ToScalar(info[1]);
  if (info[2].IsNumber()) hi = ToScalar(info[2]);
  T0.clamp_(lo, hi);
  return info[0];
}
static Napi::Value NormalInplace(const Napi::CallbackInfo& info) {
  T0.normal_(NUM(1), NUM(2));
  return info[0];
}
static Napi::Value UniformInplace(const Napi::CallbackInfo& info) {
  T0.uniform_(NUM(1), NUM(2));
  return info[0];
}
static Napi::Value LerpInplace(const Napi::CallbackInfo& info) {
  T0.lerp_(T1, ToScalar(info[2]));
  return info[0];
}
// poisson(rates): samples from Poisson(rate) element-wise with the global generator.
static Napi::Value Poisson(const Napi::CallbackInfo& info) { return Wrap(ENV, at::poisson(T0)); }
static Napi::Value Bernoulli(const Napi::CallbackInfo& info) { return Wrap(ENV, at::bernoulli(T0)); }
static Napi::Value Dropout(const Napi::CallbackInfo& info) { return Wrap(ENV, at::dropout(T0, NUM(1), BOOL(2))); }

void RegisterBasic(Napi::Env env, Napi::Object exports) {
  FACESR_EXPORT("neg", Neg);
  FACESR_EXPORT("abs", Abs);
  FACESR_EXPORT("exp", Exp);
  FACESR_EXPORT("log", Log);
  FACESR_EXPORT("log1p", Log1p);
  FACESR_EXPORT("expm1", Expm1);
  FACESR_EXPORT("sqrt", Sqrt);
  FACESR_EXPORT("rsqrt", Rsqrt);
  FACESR_EXPORT("square", Square);
  FACESR_EXPORT("reciprocal", Reciprocal);
  FACESR_EXPORT("sin", Sin);
  FACESR_EXPORT("cos", Cos);
  FACESR_EXPORT("tanh", Tanh);
  FACESR_EXPORT("sigmoid", Sigmoid);
  FACESR_EXPORT("relu", Relu);
  FACESR_EXPORT("sign", Sign);
  FACESR_EXPORT("floor", Floor);
  FACESR_EXPORT("ceil", Ceil);
  FACESR_EXPORT("round", Round);
  FACESR_EXPORT("erf", Erf);
  FACESR_EXPORT("silu", Silu);
  FACESR_EXPORT("gelu", Gelu);
  FACESR_EXPORT("logicalNot", LogicalNot);
  FACESR_EXPORT("isnan", IsNan);
  FACESR_EXPORT("isfinite", IsFinite);
  FACESR_EXPORT("leakyRelu", LeakyRelu);
  FACESR_EXPORT("prelu", Prelu);
  FACESR_EXPORT("softplus", Softplus);
  FACESR_EXPORT("elu", Elu);
  FACESR_EXPORT("hardtanh", Hardtanh);
  FACESR_EXPORT("softmax", Softmax);
  FACESR_EXPORT("logSoftmax", LogSoftmax);
  FACESR_EXPORT("add", Add);
  FACESR_EXPORT("sub", Sub);
  FACESR_EXPORT("mul", Mul);
  FACESR_EXPORT("div", Div);
  FACESR_EXPORT("pow", Pow);
  FACESR_EXPORT("remainder", Remainder);
  FACESR_EXPORT("maximum", Maximum);
  FACESR_EXPORT("minimum", Minimum);
  FACESR_EXPORT("eq", Eq);
  FACESR_EXPORT("ne", Ne);
  FACESR_EXPORT("lt", Lt);
  FACESR_EXPORT("le", Le);
  FACESR_EXPORT("gt", Gt);
  FACESR_EXPORT("ge", Ge);
  FACESR_EXPORT("logicalAnd", LogicalAnd);
  FACESR_EXPORT("logicalOr", LogicalOr);
  FACESR_EXPORT("atan2", Atan2);
  FACESR_EXPORT("rsub", Rsub);
  FACESR_EXPORT("addScaled", AddScaled);
  FACESR_EXPORT("where", Where);
  FACESR_EXPORT("clamp", Clamp);
  FACESR_EXPORT("lerp", Lerp);
  FACESR_EXPORT("sum", Sum);
  FACESR_EXPORT("mean", Mean);
  FACESR_EXPORT("amax", Amax);
  FACESR_EXPORT("amin", Amin);
  FACESR_EXPORT("logsumexp", Logsumexp);
  FACESR_EXPORT("prod", Prod);
  FACESR_EXPORT("var", Var);
  FACESR_EXPORT("std", Std);
  FACESR_EXPORT("norm", Norm);
  FACESR_EXPORT("maxDim", MaxDim);
  FACESR_EXPORT("minDim", MinDim);
  FACESR_EXPORT("argmax", Argmax);
  FACESR_EXPORT("argmin", Argmin);
  FACESR_EXPORT("all", All);
  FACESR_EXPORT("any", Any);
  FACESR_EXPORT("topk", Topk);
  FACESR_EXPORT("sort", Sort);
  FACESR_EXPORT("cumsum", Cumsum);
  FACESR_EXPORT("matmul", Matmul);
  FACESR_EXPORT("linear", Linear);
  FACESR_EXPORT("mv", Mv);
  FACESR_EXPORT("dot", Dot);
  FACESR_EXPORT("outer", Outer);
  FACESR_EXPORT("addInplace", AddInplace);
  FACESR_EXPORT("mulInplace", MulInplace);
  FACESR_EXPORT("divInplace", DivInplace);
  FACESR_EXPORT("copyInplace", CopyInplace);
  FACESR_EXPORT("fillInplace", FillInplace);
  FACESR_EXPORT("clampInplace", ClampInplace);
  FACESR_EXPORT("normalInplace", NormalInplace);
  FACESR_EXPORT("uniformInplace", UniformInplace);
  FACESR_EXPORT("lerpInplace", LerpInplace);
  FACESR_EXPORT("bernoulli", Bernoulli);
  FACESR_EXPORT("poisson", Poisson);
  FACESR_EXPORT("dropout", Dropout);
}

}  // namespace facesr
