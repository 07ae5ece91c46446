// Shared helpers for the facesr addon: tensor handles, argument conversion, error mapping.
#pragma once
#include <napi.h>
#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <c10/util/Optional.h>
#include <string>
#include <vector>

namespace facesr {

// A tensor handle is a JS External around a heap Holder. dispose() releases the storage at once;
// the finalizer only frees the (empty) holder when the JS object is collected.
struct Holder {
  at::Tensor t;
};

extern const napi_type_tag kTensorTag;
int64_t& LiveCount();

Napi::Value Wrap(Napi::Env env, at::Tensor t);
at::Tensor& Unwrap(const Napi::Value& v, const char* what = "tensor");
Holder* UnwrapHolder(const Napi::Value& v, const char* what = "tensor");
c10::optional<at::Tensor> OptTensor(const Napi::Value& v);
std::vector<at::Tensor> TensorList(const Napi::Value& v);
Napi::Array WrapList(Napi::Env env, const std::vector<at::Tensor>& ts);

std::vector<int64_t> IntList(const Napi::Value& v, const char* what = "list");
c10::optional<std::vector<int64_t>> OptIntList(const Napi::Value& v);
std::vector<double> DoubleList(const Napi::Value& v);
c10::optional<double> OptDouble(const Napi::Value& v);
at::Scalar ToScalar(const Napi::Value& v);
at::ScalarType ToDtype(const Napi::Value& v);
const char* DtypeName(at::ScalarType s);
at::Device ToDevice(const Napi::Value& v);
std::string DeviceName(const at::Device& d);
Napi::Array ShapeArray(Napi::Env env, at::IntArrayRef s);

using Fn = Napi::Value (*)(const Napi::CallbackInfo&);

// Runs fn and turns c10::Error / std::exception into a JS Error carrying libtorch's message.
template <Fn fn>
Napi::Value Guarded(const Napi::CallbackInfo& info) {
  try {
    return fn(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw Napi::Error::New(info.Env(), std::string("libtorch: ") + e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), std::string("libtorch: ") + e.what());
  }
}

using Registrar = void (*)(Napi::Env, Napi::Object);
void RegisterBasic(Napi::Env env, Napi::Object exports);
void RegisterNN(Napi::Env env, Napi::Object exports);
void RegisterShape(Napi::Env env, Napi::Object exports);
void RegisterOptim(Napi::Env env, Napi::Object exports);
void RegisterTensor(Napi::Env env, Napi::Object exports);

}  // namespace facesr

#define FACESR_EXPORT(name, fn) exports.Set(name, Napi::Function::New<facesr::Guarded<fn>>(env, name))
