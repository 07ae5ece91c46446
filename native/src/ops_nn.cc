// Neural-network ops: convolution, pooling, interpolation, normalisation, losses, sampling grids.
#include "common.h"

namespace facesr {

#define T0 Unwrap(info[0], "input")
#define ENV info.Env()
#define NUM(i) info[i].As<Napi::Number>().DoubleValue()
#define INT(i) info[i].As<Napi::Number>().Int64Value()
#define BOOL(i) info[i].ToBoolean().Value()
#define INTS(i, what) IntList(info[i], what)

// conv2d(x, w, b|null, stride[2], padding[2], dilation[2], groups)
static Napi::Value Conv2d(const Napi::CallbackInfo& info) {
  return Wrap(ENV, at::conv2d(T0, Unwrap(info[1], "weight"), OptTensor(info[2]), INTS(3, "stride"), INTS(4, "padding"),
                              INTS(5, "dilation"), INT(6)));
}
// convTranspose2d(x, w, b|null, stride, padding, outputPadding, groups, dilation)
static Napi::Value ConvTranspose2d(const Napi::CallbackInfo& info) {
  return Wrap(ENV, at::conv_transpose2d(T0, Unwrap(info[1], "weight"), OptTensor(info[2]), INTS(3, "stride"),
                                        INTS(4, "padding"), INTS(5, "outputPadding"), INT(6), INTS(7, "dilation")));
}
// avgPool2d(x, kernel, stride, padding, ceilMode, countIncludePad)
static Napi::Value AvgPool2d(const Napi::CallbackInfo& info) {
  return Wrap(ENV, at::avg_pool2d(T0, INTS(1, "kernel"), INTS(2, "stride"), INTS(3, "padding"), BOOL(4), BOOL(5)));
}
// maxPool2d(x, kernel, stride, padding, dilation, ceilMode)
static Napi::Value MaxPool2d(const Napi::CallbackInfo& info) {
  return Wrap(ENV, at::max_pool2d(T0, INTS(1, "kernel"), INTS(2, "stride"), INTS(3, "padding"), INTS(4, "dilation"),
                                  BOOL(5)));
}
static Napi::Value AdaptiveAvgPool2d(const Napi::CallbackInfo& info) {
  return Wrap(ENV, at::adaptive_avg_pool2d(T0, INTS(1, "outputSize")));
}
static Napi::Value AdaptiveMaxPool2d(const Napi::CallbackInfo& info) {
  return Wrap(ENV, std::get<0>(at::adaptive_max_pool2d(T0, INTS(1, "outputSize"))));
}

// interpolate(x, mode, size[2], scales[2]|null, alignCorners, antialias)
// Mirrors F.interpolate: when the caller gave a scale factor, the kernel gets it too.
static Napi::Value Interpolate(const Napi::CallbackInfo& info) {
  const at::Tensor& x = T0;
  std::string mode = info[1].As<Napi::String>().Utf8Value();
  auto size = INTS(2, "size");
  c10::optional<double> sh, sw;
  if (info[3].IsArray()) {
    auto s = DoubleList(info[3]);
    sh = s.at(0);
    sw = s.at(1);
  }
  bool align = BOOL(4);
  bool aa = BOOL(5);
  if (mode == "nearest") return Wrap(ENV, at::upsample_nearest2d(x, size, sh, sw));
  if (mode == "nearest-exact") return Wrap(ENV, at::_upsample_nearest_exact2d(x, size, sh, sw));
  if (mode == "bilinear") {
    return Wrap(ENV, aa ? at::_upsample_bilinear2d_aa(x, size, align, sh, sw) : at::upsample_bilinear2d(x, size, align, sh, sw));
  }
  if (mode == "bicubic") {
    return Wrap(ENV, aa ? at::_upsample_bicubic2d_aa(x, size, align, sh, sw) : at::upsample_bicubic2d(x, size, align, sh, sw));
  }
  if (mode == "area") return Wrap(ENV, at::adaptive_avg_pool2d(x, size));
  throw Napi::Error::New(ENV, "interpolate: unknown mode '" + mode + "'");
}

// batchNorm(x, w, b, runningMean, runningVar, training, momentum, eps)
static Napi::Value BatchNorm(const Napi::CallbackInfo& info) {
  return Wrap(ENV, at::batch_norm(T0, OptTensor(info[1]), OptTensor(info[2]), OptTensor(info[3]), OptTensor(info[4]),
                                  BOOL(5), NUM(6), NUM(7), true));
}
// instanceNorm(x, w, b, runningMean, runningVar, useInputStats, momentum, eps)
static Napi::Value InstanceNorm(const Napi::CallbackInfo& info) {
  return Wrap(ENV, at::instance_norm(T0, OptTensor(info[1]), OptTensor(info[2]), OptTensor(info[3]), OptTensor(info[4]),
                                     BOOL(5), NUM(6), NUM(7), true));
}
// groupNorm(x, groups, w, b, eps)
static Napi::Value GroupNorm(const Napi::CallbackInfo& info) {
  return Wrap(ENV, at::group_norm(T0, INT(1), OptTensor(info[2]), OptTensor(info[3]), NUM(4), true));
}
// layerNorm(x, normalizedShape, w, b, eps)
static Napi::Value LayerNorm(const Napi::CallbackInfo& info) {
  return Wrap(ENV, at::layer_norm(T0, INTS(1, "normalizedShape"), OptTensor(info[2]), OptTensor(info[3]), NUM(4), true));
}

static int64_t Reduction(const Napi::Value& v) {
  std::string r = v.IsString() ? v.As<Napi::String>().Utf8Value() : "mean";
  if (r == "mean") return at::Reduction::Mean;
  if (r == "sum") return at::Reduction::Sum;
  if (r == "none") return at::Reduction::None;
  throw Napi::Error::New(v.Env(), "Unknown reduction '" + r + "' (expected mean, sum or none)");
}
static Napi::Value L1Loss(const Napi::CallbackInfo& info) {
  return Wrap(ENV, at::l1_loss(T0, Unwrap(info[1], "target"), Reduction(info[2])));
}
static Napi::Value MseLoss(const Napi::CallbackInfo& info) {
  return Wrap(ENV, at::mse_loss(T0, Unwrap(info[1], "target"), Reduction(info[2])));
}
static Napi::Value SmoothL1Loss(const Napi::CallbackInfo& info) {
  return Wrap(ENV, at::smooth_l1_loss(T0, Unwrap(info[1], "target"), Reduction(info[2]), NUM(3)));
}
static Napi::Value BceWithLogits(const Napi::CallbackInfo& info) {
  return Wrap(ENV, at::binary_cross_entropy_with_logits(T0, Unwrap(info[1], "target"), {}, {}, Reduction(info[2])));
}
static Napi::Value CrossEntropy(const Napi::CallbackInfo& info) {
  return Wrap(ENV, at::cross_entropy_loss(T0, Unwrap(info[1], "target"), {}, Reduction(info[2])));
}

// affineGrid(theta [N,2,3], size [N,C,H,W], alignCorners)
static Napi::Value AffineGrid(const Napi::CallbackInfo& info) {
  return Wrap(ENV, at::affine_grid_generator(T0, INTS(1, "size"), BOOL(2)));
}
// gridSample(x, grid, mode 0 bilinear|1 nearest|2 bicubic, padding 0 zeros|1 border|2 reflection, alignCorners)
static Napi::Value GridSample(const Napi::CallbackInfo& info) {
  return Wrap(ENV, at::grid_sampler(T0, Unwrap(info[1], "grid"), INT(2), INT(3), BOOL(4)));
}

void RegisterNN(Napi::Env env, Napi::Object exports) {
  FACESR_EXPORT("conv2d", Conv2d);
  FACESR_EXPORT("convTranspose2d", ConvTranspose2d);
  FACESR_EXPORT("avgPool2d", AvgPool2d);
  FACESR_EXPORT("maxPool2d", MaxPool2d);
  FACESR_EXPORT("adaptiveAvgPool2d", AdaptiveAvgPool2d);
  FACESR_EXPORT("adaptiveMaxPool2d", AdaptiveMaxPool2d);
  FACESR_EXPORT("interpolate", Interpolate);
  FACESR_EXPORT("batchNorm", BatchNorm);
  FACESR_EXPORT("instanceNorm", InstanceNorm);
  FACESR_EXPORT("groupNorm", GroupNorm);
  FACESR_EXPORT("layerNorm", LayerNorm);
  FACESR_EXPORT("l1Loss", L1Loss);
  FACESR_EXPORT("mseLoss", MseLoss);
  FACESR_EXPORT("smoothL1Loss", SmoothL1Loss);
  FACESR_EXPORT("bceWithLogits", BceWithLogits);
  FACESR_EXPORT("crossEntropy", CrossEntropy);
  FACESR_EXPORT("affineGrid", AffineGrid);
  FACESR_EXPORT("gridSample", GridSample);
}

}  // namespace facesr
