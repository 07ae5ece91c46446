// Entry point of the facesr native addon: registers every op family.
#include "common.h"

#include <cstdlib>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

// glibc returns freed memory at the top of the heap to the kernel and hands large blocks back at
// once; a network that frees megabytes of activations per layer then page-faults them back in on
// every pass (measured: 80-400 ms extra on a 25 ms forward). Keep large blocks in the heap and trim
// only above 512 MB. Both settings are needed: setting the trim threshold alone re-enables the
// dynamic mmap threshold. A user's own MALLOC_* or GLIBC_TUNABLES settings win.
static void TuneAllocator() {
#if defined(__GLIBC__)
  if (std::getenv("MALLOC_TRIM_THRESHOLD_") || std::getenv("MALLOC_MMAP_THRESHOLD_") || std::getenv("GLIBC_TUNABLES") ||
      std::getenv("FACESR_DEFAULT_MALLOC")) {
    return;
  }
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
#endif
}

// setMallocArenaMax(n): caps glibc's malloc arenas (mallopt M_ARENA_MAX) for arenas made from now
// on; returns false where that is not available (not glibc) or MALLOC_ARENA_MAX is set (it wins).
// A long-running server's threads otherwise drift onto new arenas, each growing to its working size.
static Napi::Value SetMallocArenaMax(const Napi::CallbackInfo& info) {
#if defined(__GLIBC__)
  if (std::getenv("MALLOC_ARENA_MAX") || std::getenv("GLIBC_TUNABLES")) return Napi::Boolean::New(info.Env(), false);
  int n = info[0].As<Napi::Number>().Int32Value();
  return Napi::Boolean::New(info.Env(), mallopt(M_ARENA_MAX, n) == 1);
#else
  return Napi::Boolean::New(info.Env(), false);
#endif
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  TuneAllocator();
  exports.Set("setMallocArenaMax", Napi::Function::New(env, SetMallocArenaMax, "setMallocArenaMax"));
  facesr::RegisterTensor(env, exports);
  facesr::RegisterBasic(env, exports);
  facesr::RegisterShape(env, exports);
  facesr::RegisterNN(env, exports);
  facesr::RegisterOptim(env, exports);
  return exports;
}

NODE_API_MODULE(facesr_native, Init)
