// Entry point of the facesr native addon: registers every op family.
#include "common.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  facesr::RegisterTensor(env, exports);
  facesr::RegisterBasic(env, exports);
  facesr::RegisterShape(env, exports);
  facesr::RegisterNN(env, exports);
  facesr::RegisterOptim(env, exports);
  return exports;
}

NODE_API_MODULE(facesr_native, Init)
