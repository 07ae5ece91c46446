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

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  TuneAllocator();
  facesr::RegisterTensor(env, exports);
  facesr::RegisterBasic(env, exports);
  facesr::RegisterShape(env, exports);
  facesr::RegisterNN(env, exports);
  facesr::RegisterOptim(env, exports);
  return exports;
}

NODE_API_MODULE(facesr_native, Init)
