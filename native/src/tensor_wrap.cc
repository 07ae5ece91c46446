// Tensor handles, creation, conversion to and from JS memory, metadata, autograd, random, threads.
#include "common.h"

#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>
#include <c10/core/InferenceMode.h>
#include <cstring>
#include <torch/cuda.h>
#include <torch/version.h>
#include <memory>

namespace facesr {

const napi_type_tag kTensorTag = {0x6661636573722d74ULL, 0x656e736f72000001ULL};
int64_t& LiveCount() {
  static int64_t n = 0;
  return n;
}

static void Finalize(Napi::Env, Holder* h) {
  if (h->t.defined()) LiveCount()--;
  delete h;
}

Napi::Value Wrap(Napi::Env env, at::Tensor t) {
  auto* h = new Holder{std::move(t)};
  LiveCount()++;
  auto ext = Napi::External<Holder>::New(env, h, Finalize);
  ext.TypeTag(&kTensorTag);
  return ext;
}

Holder* UnwrapHolder(const Napi::Value& v, const char* what) {
  if (!v.IsExternal() || !v.As<Napi::Object>().CheckTypeTag(&kTensorTag)) {
    throw Napi::TypeError::New(v.Env(), std::string("Expected a tensor handle for ") + what);
  }
  return v.As<Napi::External<Holder>>().Data();
}

at::Tensor& Unwrap(const Napi::Value& v, const char* what) {
  Holder* h = UnwrapHolder(v, what);
  if (!h->t.defined()) {
    throw Napi::Error::New(v.Env(), std::string("Tensor used after dispose() (") + what + ")");
  }
  return h->t;
}

c10::optional<at::Tensor> OptTensor(const Napi::Value& v) {
  if (v.IsUndefined() || v.IsNull()) return c10::nullopt;
  return Unwrap(v);
}

std::vector<at::Tensor> TensorList(const Napi::Value& v) {
  if (!v.IsArray()) throw Napi::TypeError::New(v.Env(), "Expected an array of tensors");
  auto a = v.As<Napi::Array>();
  std::vector<at::Tensor> out;
  out.reserve(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) out.push_back(Unwrap(a.Get(i)));
  return out;
}

Napi::Array WrapList(Napi::Env env, const std::vector<at::Tensor>& ts) {
  auto a = Napi::Array::New(env, ts.size());
  for (size_t i = 0; i < ts.size(); i++) a.Set(i, Wrap(env, ts[i]));
  return a;
}

std::vector<int64_t> IntList(const Napi::Value& v, const char* what) {
  if (v.IsNumber()) return {v.As<Napi::Number>().Int64Value()};
  if (!v.IsArray()) throw Napi::TypeError::New(v.Env(), std::string("Expected an integer array for ") + what);
  auto a = v.As<Napi::Array>();
  std::vector<int64_t> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) out[i] = a.Get(i).As<Napi::Number>().Int64Value();
  return out;
}

c10::optional<std::vector<int64_t>> OptIntList(const Napi::Value& v) {
  if (v.IsUndefined() || v.IsNull()) return c10::nullopt;
  return IntList(v);
}

std::vector<double> DoubleList(const Napi::Value& v) {
  auto a = v.As<Napi::Array>();
  std::vector<double> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) out[i] = a.Get(i).As<Napi::Number>().DoubleValue();
  return out;
}

c10::optional<double> OptDouble(const Napi::Value& v) {
  if (v.IsUndefined() || v.IsNull()) return c10::nullopt;
  return v.As<Napi::Number>().DoubleValue();
}

at::Scalar ToScalar(const Napi::Value& v) {
  if (v.IsBoolean()) return at::Scalar(v.As<Napi::Boolean>().Value());
  double d = v.As<Napi::Number>().DoubleValue();
  // Like a Python int literal: integral values stay integral so int tensors keep their dtype.
  if (std::isfinite(d) && d == static_cast<double>(static_cast<int64_t>(d)) && std::fabs(d) < 9.007199254740992e15) {
    return at::Scalar(static_cast<int64_t>(d));
  }
  return at::Scalar(d);
}

static const std::pair<const char*, at::ScalarType> kDtypes[] = {
    {"float32", at::kFloat}, {"float16", at::kHalf},  {"bfloat16", at::kBFloat16}, {"float64", at::kDouble},
    {"int64", at::kLong},    {"int32", at::kInt},     {"int16", at::kShort},       {"int8", at::kChar},
    {"uint8", at::kByte},    {"bool", at::kBool},
};

at::ScalarType ToDtype(const Napi::Value& v) {
  std::string s = v.As<Napi::String>().Utf8Value();
  for (auto& p : kDtypes)
    if (s == p.first) return p.second;
  throw Napi::TypeError::New(v.Env(), "Unknown dtype '" + s + "'");
}

const char* DtypeName(at::ScalarType s) {
  for (auto& p : kDtypes)
    if (s == p.second) return p.first;
  return "unknown";
}

at::Device ToDevice(const Napi::Value& v) {
  if (v.IsUndefined() || v.IsNull()) return at::Device(at::kCPU);
  return at::Device(v.As<Napi::String>().Utf8Value());
}

std::string DeviceName(const at::Device& d) { return d.str(); }

Napi::Array ShapeArray(Napi::Env env, at::IntArrayRef s) {
  auto a = Napi::Array::New(env, s.size());
  for (size_t i = 0; i < s.size(); i++) a.Set(i, Napi::Number::New(env, static_cast<double>(s[i])));
  return a;
}

// ---- creation and conversion ----

static at::TensorOptions Opts(const Napi::Value& dtype, const Napi::Value& device) {
  auto o = at::TensorOptions().dtype(dtype.IsUndefined() || dtype.IsNull() ? at::kFloat : ToDtype(dtype));
  return o.device(ToDevice(device));
}

// fromBuffer(typedArrayOrArrayBuffer, shape, dtype, device): copies the bytes into a new tensor.
static Napi::Value FromBuffer(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  const uint8_t* data;
  size_t bytes;
  if (info[0].IsTypedArray()) {
    auto ta = info[0].As<Napi::TypedArray>();
    auto ab = ta.ArrayBuffer();
    data = static_cast<const uint8_t*>(ab.Data()) + ta.ByteOffset();
    bytes = ta.ByteLength();
  } else if (info[0].IsArrayBuffer()) {
    auto ab = info[0].As<Napi::ArrayBuffer>();
    data = static_cast<const uint8_t*>(ab.Data());
    bytes = ab.ByteLength();
  } else {
    throw Napi::TypeError::New(env, "fromBuffer expects a TypedArray or ArrayBuffer");
  }
  auto shape = IntList(info[1], "shape");
  auto dtype = ToDtype(info[2]);
  int64_t n = 1;
  for (auto d : shape) n *= d;
  size_t need = static_cast<size_t>(n) * c10::elementSize(dtype);
  if (need != bytes) {
    throw Napi::RangeError::New(env, "fromBuffer: shape needs " + std::to_string(need) + " bytes but the buffer has " +
                                         std::to_string(bytes));
  }
  auto t = at::empty(shape, at::TensorOptions().dtype(dtype));
  if (bytes) std::memcpy(t.data_ptr(), data, bytes);
  auto dev = ToDevice(info[3]);
  if (!dev.is_cpu()) t = t.to(dev);
  return Wrap(env, t);
}

// toBuffer(t): a new ArrayBuffer holding the tensor's elements, contiguous, on the CPU.
static Napi::Value ToBuffer(const Napi::CallbackInfo& info) {
  auto t = Unwrap(info[0]).detach();
  if (!t.device().is_cpu()) t = t.to(at::kCPU);
  t = t.contiguous();
  size_t bytes = t.numel() * t.element_size();
  auto ab = Napi::ArrayBuffer::New(info.Env(), bytes);
  if (bytes) std::memcpy(ab.Data(), t.data_ptr(), bytes);
  return ab;
}

static Napi::Value Full(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::full(IntList(info[0], "shape"), ToScalar(info[1]), Opts(info[2], info[3])));
}
static Napi::Value Empty(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::empty(IntList(info[0], "shape"), Opts(info[1], info[2])));
}
static Napi::Value Arange(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::arange(ToScalar(info[0]), ToScalar(info[1]), ToScalar(info[2]), Opts(info[3], info[4])));
}
static Napi::Value Linspace(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::linspace(ToScalar(info[0]), ToScalar(info[1]), info[2].As<Napi::Number>().Int64Value(),
                                       Opts(info[3], info[4])));
}
static Napi::Value Eye(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::eye(info[0].As<Napi::Number>().Int64Value(), Opts(info[1], info[2])));
}
static Napi::Value Randn(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::randn(IntList(info[0], "shape"), Opts(info[1], info[2])));
}
static Napi::Value Rand(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::rand(IntList(info[0], "shape"), Opts(info[1], info[2])));
}
static Napi::Value Randint(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::randint(info[0].As<Napi::Number>().Int64Value(), info[1].As<Napi::Number>().Int64Value(),
                                      IntList(info[2], "shape"), Opts(info[3], info[4])));
}
static Napi::Value Randperm(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::randperm(info[0].As<Napi::Number>().Int64Value(), Opts(info[1], info[2])));
}
// The default generator of a device: the CPU's, or CUDA device i's. The same calls exist in libtorch
// 1.13 (Debian) and 2.x (official builds, PyTorch's torch/ folder), unlike the CUDA hooks' own.
static at::Generator DefaultGenerator(const at::Device& d) {
  if (d.is_cpu()) return at::detail::getDefaultCPUGenerator();
  return at::globalContext().defaultGenerator(d);
}
static int CudaCount() { return at::hasCUDA() ? static_cast<int>(torch::cuda::device_count()) : 0; }
static at::Device RngDevice(const Napi::Value& v) {
  if (v.IsUndefined() || v.IsNull()) return at::Device(at::kCPU);
  return at::Device(v.As<Napi::String>().Utf8Value());
}
static Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
  uint64_t seed = static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
  {
    auto gen = DefaultGenerator(at::Device(at::kCPU));
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_current_seed(seed);
  }
  for (int i = 0; i < CudaCount(); i++) {
    auto gen = DefaultGenerator(at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(i)));
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_current_seed(seed);
  }
  return info.Env().Undefined();
}
// cudaSynchronize(): waits for the GPU's queued work (timing); a no-op without CUDA.
static Napi::Value CudaSynchronize(const Napi::CallbackInfo& info) {
  if (CudaCount() > 0) torch::cuda::synchronize();
  return info.Env().Undefined();
}
// getRngState(device?) / setRngState(state, device?): the generator state of the CPU (default) or
// of a CUDA device, so that a checkpoint taken on CUDA resumes with the same noise.
static Napi::Value GetRngState(const Napi::CallbackInfo& info) {
  auto gen = DefaultGenerator(RngDevice(info[0]));
  std::lock_guard<std::mutex> lock(gen.mutex());
  return Wrap(info.Env(), gen.get_state());
}
static Napi::Value SetRngState(const Napi::CallbackInfo& info) {
  auto gen = DefaultGenerator(RngDevice(info[1]));
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(Unwrap(info[0]));
  return info.Env().Undefined();
}

// ---- metadata ----
static Napi::Value Shape(const Napi::CallbackInfo& info) { return ShapeArray(info.Env(), Unwrap(info[0]).sizes()); }
static Napi::Value Strides(const Napi::CallbackInfo& info) { return ShapeArray(info.Env(), Unwrap(info[0]).strides()); }
static Napi::Value Dtype(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), DtypeName(Unwrap(info[0]).scalar_type()));
}
static Napi::Value Device(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), DeviceName(Unwrap(info[0]).device()));
}
static Napi::Value Item(const Napi::CallbackInfo& info) {
  auto& t = Unwrap(info[0]);
  if (t.numel() != 1) {
    throw Napi::Error::New(info.Env(), "item() needs a tensor with one element, got " + std::to_string(t.numel()));
  }
  auto s = t.item();
  if (s.isBoolean()) return Napi::Boolean::New(info.Env(), s.toBool());
  return Napi::Number::New(info.Env(), s.toDouble());
}
static Napi::Value IsContiguous(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), Unwrap(info[0]).is_contiguous());
}
static Napi::Value Dispose(const Napi::CallbackInfo& info) {
  Holder* h = UnwrapHolder(info[0]);
  if (h->t.defined()) {
    h->t = at::Tensor();
    LiveCount()--;
  }
  return info.Env().Undefined();
}
static Napi::Value IsDisposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !UnwrapHolder(info[0])->t.defined());
}
static Napi::Value Live(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(LiveCount()));
}
// Same storage and same view? Used by tests of in-place ops and views.
static Napi::Value DataPtr(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(reinterpret_cast<uintptr_t>(Unwrap(info[0]).data_ptr())));
}

// ---- conversion ----
static Napi::Value To(const Napi::CallbackInfo& info) {
  auto& t = Unwrap(info[0]);
  auto dtype = info[1].IsUndefined() || info[1].IsNull() ? t.scalar_type() : ToDtype(info[1]);
  auto dev = info[2].IsUndefined() || info[2].IsNull() ? t.device() : ToDevice(info[2]);
  bool copy = info.Length() > 3 && info[3].ToBoolean().Value();
  return Wrap(info.Env(), t.to(dev, dtype, /*non_blocking=*/false, copy));
}
static Napi::Value Contiguous(const Napi::CallbackInfo& info) { return Wrap(info.Env(), Unwrap(info[0]).contiguous()); }
static Napi::Value Clone(const Napi::CallbackInfo& info) { return Wrap(info.Env(), Unwrap(info[0]).clone()); }
static Napi::Value Detach(const Napi::CallbackInfo& info) { return Wrap(info.Env(), Unwrap(info[0]).detach()); }
// setData(t, src): t.data = src (keeps t's identity and autograd flags; used by Module.to()).
static Napi::Value SetData(const Napi::CallbackInfo& info) {
  Unwrap(info[0]).set_data(Unwrap(info[1]));
  return info.Env().Undefined();
}

// ---- autograd ----
static Napi::Value RequiresGrad(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), Unwrap(info[0]).requires_grad());
}
static Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info) {
  Unwrap(info[0]).requires_grad_(info[1].ToBoolean().Value());
  return info.Env().Undefined();
}
static Napi::Value IsLeaf(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), Unwrap(info[0]).is_leaf()); }
static Napi::Value Grad(const Napi::CallbackInfo& info) {
  const auto& g = Unwrap(info[0]).grad();
  if (!g.defined()) return info.Env().Null();
  return Wrap(info.Env(), g);
}
static Napi::Value SetGrad(const Napi::CallbackInfo& info) {
  auto& t = Unwrap(info[0]);
  if (info[1].IsNull() || info[1].IsUndefined()) {
    t.mutable_grad().reset();
  } else {
    t.mutable_grad() = Unwrap(info[1]);
  }
  return info.Env().Undefined();
}
// zeroGrads(params[]): set every .grad to undefined (PyTorch's zero_grad(set_to_none=True)).
static Napi::Value ZeroGrads(const Napi::CallbackInfo& info) {
  auto a = info[0].As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) Unwrap(a.Get(i)).mutable_grad().reset();
  return info.Env().Undefined();
}
static Napi::Value RetainGrad(const Napi::CallbackInfo& info) {
  Unwrap(info[0]).retain_grad();
  return info.Env().Undefined();
}
// backward(t, gradient?, retainGraph?)
static Napi::Value Backward(const Napi::CallbackInfo& info) {
  auto& t = Unwrap(info[0]);
  auto g = OptTensor(info[1]);
  bool retain = info[2].ToBoolean().Value();
  t.backward(g ? *g : at::Tensor(), retain);
  return info.Env().Undefined();
}
static Napi::Value SetGradEnabled(const Napi::CallbackInfo& info) {
  bool prev = at::GradMode::is_enabled();
  at::GradMode::set_enabled(info[0].ToBoolean().Value());
  return Napi::Boolean::New(info.Env(), prev);
}
static Napi::Value IsGradEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), at::GradMode::is_enabled());
}
// Inference mode as a stack of guards: enter/exit must nest (the TypeScript scope guarantees it).
static std::vector<std::unique_ptr<c10::InferenceMode>>& InferenceStack() {
  static std::vector<std::unique_ptr<c10::InferenceMode>> s;
  return s;
}
static Napi::Value InferenceEnter(const Napi::CallbackInfo& info) {
  InferenceStack().push_back(std::make_unique<c10::InferenceMode>(true));
  return info.Env().Undefined();
}
static Napi::Value InferenceExit(const Napi::CallbackInfo& info) {
  if (!InferenceStack().empty()) InferenceStack().pop_back();
  return info.Env().Undefined();
}
static Napi::Value IsInference(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), Unwrap(info[0]).is_inference());
}

// ---- runtime ----
static Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  at::set_num_threads(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}
static Napi::Value GetNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::get_num_threads());
}
static Napi::Value SetNumInteropThreads(const Napi::CallbackInfo& info) {
  at::set_num_interop_threads(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}
static Napi::Value Info(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  auto o = Napi::Object::New(env);
  o.Set("torchVersion", TORCH_VERSION);
  o.Set("cudaAvailable", at::hasCUDA());
  o.Set("cudaDeviceCount", CudaCount());
  o.Set("builtWithCuda",
#ifdef FACESR_CUDA
        true
#else
        false
#endif
  );
  o.Set("mkldnn", at::hasMKLDNN());
  o.Set("openmp", at::hasOpenMP());
  o.Set("parallelInfo", at::get_parallel_info());
  o.Set("cxx11Abi", _GLIBCXX_USE_CXX11_ABI == 1);
  return o;
}

void RegisterTensor(Napi::Env env, Napi::Object exports) {
  FACESR_EXPORT("fromBuffer", FromBuffer);
  FACESR_EXPORT("toBuffer", ToBuffer);
  FACESR_EXPORT("full", Full);
  FACESR_EXPORT("empty", Empty);
  FACESR_EXPORT("arange", Arange);
  FACESR_EXPORT("linspace", Linspace);
  FACESR_EXPORT("eye", Eye);
  FACESR_EXPORT("randn", Randn);
  FACESR_EXPORT("rand", Rand);
  FACESR_EXPORT("randint", Randint);
  FACESR_EXPORT("randperm", Randperm);
  FACESR_EXPORT("manualSeed", ManualSeed);
  FACESR_EXPORT("getRngState", GetRngState);
  FACESR_EXPORT("cudaSynchronize", CudaSynchronize);
  FACESR_EXPORT("setRngState", SetRngState);
  FACESR_EXPORT("shape", Shape);
  FACESR_EXPORT("strides", Strides);
  FACESR_EXPORT("dtype", Dtype);
  FACESR_EXPORT("device", Device);
  FACESR_EXPORT("item", Item);
  FACESR_EXPORT("isContiguous", IsContiguous);
  FACESR_EXPORT("dispose", Dispose);
  FACESR_EXPORT("isDisposed", IsDisposed);
  FACESR_EXPORT("liveCount", Live);
  FACESR_EXPORT("dataPtr", DataPtr);
  FACESR_EXPORT("to", To);
  FACESR_EXPORT("contiguous", Contiguous);
  FACESR_EXPORT("clone", Clone);
  FACESR_EXPORT("detach", Detach);
  FACESR_EXPORT("setData", SetData);
  FACESR_EXPORT("requiresGrad", RequiresGrad);
  FACESR_EXPORT("setRequiresGrad", SetRequiresGrad);
  FACESR_EXPORT("isLeaf", IsLeaf);
  FACESR_EXPORT("grad", Grad);
  FACESR_EXPORT("setGrad", SetGrad);
  FACESR_EXPORT("zeroGrads", ZeroGrads);
  FACESR_EXPORT("retainGrad", RetainGrad);
  FACESR_EXPORT("backward", Backward);
  FACESR_EXPORT("setGradEnabled", SetGradEnabled);
  FACESR_EXPORT("isGradEnabled", IsGradEnabled);
  FACESR_EXPORT("inferenceEnter", InferenceEnter);
  FACESR_EXPORT("inferenceExit", InferenceExit);
  FACESR_EXPORT("isInference", IsInference);
  FACESR_EXPORT("setNumThreads", SetNumThreads);
  FACESR_EXPORT("getNumThreads", GetNumThreads);
  FACESR_EXPORT("setNumInteropThreads", SetNumInteropThreads);
  FACESR_EXPORT("info", Info);
}

}  // namespace facesr
