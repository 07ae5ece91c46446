{
  "targets": [
    {
      "target_name": "facesr_native",
      "sources": [
        "native/src/addon.cc",
        "native/src/tensor_wrap.cc",
        "native/src/ops_basic.cc",
        "native/src/ops_nn.cc",
        "native/src/ops_shape.cc",
        "native/src/ops_optim.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node scripts/torch-config.cjs include)"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "<!@(node scripts/torch-config.cjs defines)"
      ],
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++20"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-frtti", "-O2", "-Wno-unused-parameter", "-Wno-deprecated-declarations"],
      "ldflags": ["<!@(node scripts/torch-config.cjs ldflags)"]
    }
  ]
}
