// Shape, indexing, joining and padding ops.
#include "common.h"

namespace facesr {

#define T0 Unwrap(info[0], "input")
#define ENV info.Env()
#define INT(i) info[i].As<Napi::Number>().Int64Value()
#define BOOL(i) info[i].ToBoolean().Value()

static Napi::Value Cat(const Napi::CallbackInfo& info) { return Wrap(ENV, at::cat(TensorList(info[0]), INT(1))); }
static Napi::Value Stack(const Napi::CallbackInfo& info) { return Wrap(ENV, at::stack(TensorList(info[0]), INT(1))); }
// slice(x, dim, start, end, step): end may be null for "to the end".
static Napi::Value Slice(const Napi::CallbackInfo& info) {
  c10::optional<int64_t> start, end;
  if (info[2].IsNumber()) start = INT(2);
  if (info[3].IsNumber()) end = INT(3);
  return Wrap(ENV, at::slice(T0, INT(1), start, end, info[4].IsNumber() ? INT(4) : 1));
}
static Napi::Value Narrow(const Napi::CallbackInfo& info) { return Wrap(ENV, at::narrow(T0, INT(1), INT(2), INT(3))); }
static Napi::Value Select(const Napi::CallbackInfo& info) { return Wrap(ENV, at::select(T0, INT(1), INT(2))); }
static Napi::Value IndexSelect(const Napi::CallbackInfo& info) {
  return Wrap(ENV, at::index_select(T0, INT(1), Unwrap(info[2], "index")));
}
// index(x, [idx | null, ...]): advanced indexing like x[i0, i1, ...]; null means ':' for that dim.
static Napi::Value Index(const Napi::CallbackInfo& info) {
  auto a = info[1].As<Napi::Array>();
  c10::List<c10::optional<at::Tensor>> idx;
  for (uint32_t i = 0; i < a.Length(); i++) {
    auto v = a.Get(i);
    if (v.IsNull() || v.IsUndefined()) idx.push_back(c10::nullopt);
    else idx.push_back(Unwrap(v, "index"));
  }
  return Wrap(ENV, at::index(T0, idx));
}
static Napi::Value IndexPut(const Napi::CallbackInfo& info) {
  auto a = info[1].As<Napi::Array>();
  c10::List<c10::optional<at::Tensor>> idx;
  for (uint32_t i = 0; i < a.Length(); i++) {
    auto v = a.Get(i);
    if (v.IsNull() || v.IsUndefined()) idx.push_back(c10::nullopt);
    else idx.push_back(Unwrap(v, "index"));
  }
  return Wrap(ENV, at::index_put(T0, idx, Unwrap(info[2], "values"), BOOL(3)));
}
static Napi::Value Gather(const Napi::CallbackInfo& info) { return Wrap(ENV, at::gather(T0, INT(1), Unwrap(info[2], "index"))); }
static Napi::Value Scatter(const Napi::CallbackInfo& info) {
  return Wrap(ENV, at::scatter(T0, INT(1), Unwrap(info[2], "index"), Unwrap(info[3], "src")));
}
static Napi::Value MaskedFill(const Napi::CallbackInfo& info) {
  return Wrap(ENV, at::masked_fill(T0, Unwrap(info[1], "mask"), ToScalar(info[2])));
}
static Napi::Value Reshape(const Napi::CallbackInfo& info) { return Wrap(ENV, at::reshape(T0, IntList(info[1], "shape"))); }
static Napi::Value View(const Napi::CallbackInfo& info) { return Wrap(ENV, T0.view(IntList(info[1], "shape"))); }
static Napi::Value Permute(const Napi::CallbackInfo& info) { return Wrap(ENV, at::permute(T0, IntList(info[1], "dims"))); }
static Napi::Value Transpose(const Napi::CallbackInfo& info) { return Wrap(ENV, at::transpose(T0, INT(1), INT(2))); }
static Napi::Value Squeeze(const Napi::CallbackInfo& info) {
  if (info[1].IsUndefined() || info[1].IsNull()) return Wrap(ENV, at::squeeze(T0));
  return Wrap(ENV, at::squeeze(T0, INT(1)));
}
static Napi::Value Unsqueeze(const Napi::CallbackInfo& info) { return Wrap(ENV, at::unsqueeze(T0, INT(1))); }
static Napi::Value Flatten(const Napi::CallbackInfo& info) { return Wrap(ENV, at::flatten(T0, INT(1), INT(2))); }
static Napi::Value Expand(const Napi::CallbackInfo& info) { return Wrap(ENV, T0.expand(IntList(info[1], "shape"))); }
static Napi::Value Repeat(const Napi::CallbackInfo& info) { return Wrap(ENV, T0.repeat(IntList(info[1], "repeats"))); }
static Napi::Value Flip(const Napi::CallbackInfo& info) { return Wrap(ENV, at::flip(T0, IntList(info[1], "dims"))); }
static Napi::Value Roll(const Napi::CallbackInfo& info) {
  return Wrap(ENV, at::roll(T0, IntList(info[1], "shifts"), IntList(info[2], "dims")));
}
static Napi::Value Split(const Napi::CallbackInfo& info) {
  return WrapList(ENV, at::split_with_sizes(T0, IntList(info[1], "sizes"), INT(2)));
}
static Napi::Value Chunk(const Napi::CallbackInfo& info) { return WrapList(ENV, at::chunk(T0, INT(1), INT(2))); }
static Napi::Value Tril(const Napi::CallbackInfo& info) { return Wrap(ENV, at::tril(T0, INT(1))); }
static Napi::Value Triu(const Napi::CallbackInfo& info) { return Wrap(ENV, at::triu(T0, INT(1))); }
static Napi::Value Nonzero(const Napi::CallbackInfo& info) { return Wrap(ENV, at::nonzero(T0)); }

// pad(x, pads (last dim first, like F.pad), mode, value)
static Napi::Value Pad(const Napi::CallbackInfo& info) {
  auto pads = IntList(info[1], "pad");
  std::string mode = info[2].As<Napi::String>().Utf8Value();
  const at::Tensor& x = T0;
  if (mode == "constant" || mode == "zeros") {
    double v = info[3].IsNumber() ? info[3].As<Napi::Number>().DoubleValue() : 0.0;
    return Wrap(ENV, at::constant_pad_nd(x, pads, v));
  }
  if (pads.size() == 4 && x.dim() >= 3) {
    if (mode == "reflect") return Wrap(ENV, at::reflection_pad2d(x, pads));
    if (mode == "replicate") return Wrap(ENV, at::replication_pad2d(x, pads));
    if (mode == "circular") return Wrap(ENV, at::_pad_circular(x, pads));
  }
  if (pads.size() == 2 && x.dim() >= 2) {
    if (mode == "reflect") return Wrap(ENV, at::reflection_pad1d(x, pads));
    if (mode == "replicate") return Wrap(ENV, at::replication_pad1d(x, pads));
  }
  throw Napi::Error::New(ENV, "pad: mode '" + mode + "' with " + std::to_string(pads.size()) +
                                  " pad values is not supported for a " + std::to_string(x.dim()) + "-d tensor");
}
static Napi::Value PixelShuffle(const Napi::CallbackInfo& info) { return Wrap(ENV, at::pixel_shuffle(T0, INT(1))); }
static Napi::Value PixelUnshuffle(const Napi::CallbackInfo& info) { return Wrap(ENV, at::pixel_unshuffle(T0, INT(1))); }

void RegisterShape(Napi::Env env, Napi::Object exports) {
  FACESR_EXPORT("cat", Cat);
  FACESR_EXPORT("stack", Stack);
  FACESR_EXPORT("slice", Slice);
  FACESR_EXPORT("narrow", Narrow);
  FACESR_EXPORT("select", Select);
  FACESR_EXPORT("indexSelect", IndexSelect);
  FACESR_EXPORT("index", Index);
  FACESR_EXPORT("indexPut", IndexPut);
  FACESR_EXPORT("gather", Gather);
  FACESR_EXPORT("scatter", Scatter);
  FACESR_EXPORT("maskedFill", MaskedFill);
  FACESR_EXPORT("reshape", Reshape);
  FACESR_EXPORT("view", View);
  FACESR_EXPORT("permute", Permute);
  FACESR_EXPORT("transpose", Transpose);
  FACESR_EXPORT("squeeze", Squeeze);
  FACESR_EXPORT("unsqueeze", Unsqueeze);
  FACESR_EXPORT("flatten", Flatten);
  FACESR_EXPORT("expand", Expand);
  FACESR_EXPORT("repeat", Repeat);
  FACESR_EXPORT("flip", Flip);
  FACESR_EXPORT("roll", Roll);
  FACESR_EXPORT("split", Split);
  FACESR_EXPORT("chunk", Chunk);
  FACESR_EXPORT("tril", Tril);
  FACESR_EXPORT("triu", Triu);
  FACESR_EXPORT("nonzero", Nonzero);
  FACESR_EXPORT("pad", Pad);
  FACESR_EXPORT("pixelShuffle", PixelShuffle);
  FACESR_EXPORT("pixelUnshuffle", PixelUnshuffle);
}

}  // namespace facesr
