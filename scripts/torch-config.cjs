#!/usr/bin/env node
// Prints build settings for binding.gyp: where libtorch's headers and libraries are.
// LIBTORCH (an unpacked official libtorch, CPU or CUDA, or PyTorch's torch/ package folder)
// wins; otherwise Debian's libtorch-dev in the system paths is used.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

function cxx11Abi(libDir) {
  if (process.env.TORCH_CXX11_ABI !== undefined) return process.env.TORCH_CXX11_ABI === '0' ? 0 : 1;
  const c10 = path.join(libDir, 'libc10.so');
  try {
    // The new-ABI std::string mangles as NSt7__cxx1112basic_string; old-ABI builds never contain it.
    return fs.readFileSync(c10).includes('St7__cxx1112basic_string') ? 1 : 0;
  } catch {
    return 1;
  }
}

function config() {
  const root = process.env.LIBTORCH;
  if (root) {
    const inc = path.join(root, 'include');
    const lib = path.join(root, 'lib');
    if (!fs.existsSync(path.join(inc, 'ATen', 'ATen.h'))) {
      throw new Error(`LIBTORCH=${root} does not look like libtorch: ${inc}/ATen/ATen.h is missing`);
    }
    const cuda = fs.existsSync(path.join(lib, 'libtorch_cuda.so'));
    return {
      include: [inc, path.join(inc, 'torch', 'csrc', 'api', 'include')],
      libdirs: [lib],
      libs: ['torch', 'torch_cpu', 'c10', ...(cuda ? ['torch_cuda', 'c10_cuda'] : [])],
      abi: cxx11Abi(lib),
      cuda,
    };
  }
  const sysInc = '/usr/include/torch/csrc/api/include';
  if (!fs.existsSync('/usr/include/ATen/ATen.h')) {
    throw new Error(
      'libtorch not found. Install it (Debian: apt-get install libtorch-dev) or set LIBTORCH to an unpacked libtorch folder.',
    );
  }
  return { include: [sysInc], libdirs: [], libs: ['torch', 'torch_cpu', 'c10'], abi: 1, cuda: false };
}

const what = process.argv[2];
const c = config();
switch (what) {
  case 'include':
    console.log(c.include.join(' '));
    break;
  case 'ldflags':
    console.log(
      [
        '-Wl,--no-as-needed',
        ...c.libdirs.flatMap((d) => [`-L${d}`, `-Wl,-rpath,${d}`]),
        ...c.libs.map((l) => `-l${l}`),
        '-Wl,--as-needed',
      ].join(' '),
    );
    break;
  case 'defines':
    console.log([`_GLIBCXX_USE_CXX11_ABI=${c.abi}`, ...(c.cuda ? ['FACESR_CUDA=1'] : [])].join(' '));
    break;
  default:
    console.log(JSON.stringify(c, null, 2));
}
