// `facesr doctor`: is the engine installed and working? Prints what a bug report needs.
import os from 'node:os';
import { nativePath } from '../binding/native.js';
import {
  engineInfo,
  getNumThreads,
  setNumThreads,
  randn,
  tidy,
  noGrad,
  F,
  manualSeed,
  liveTensors,
} from '../tensor/index.js';

export interface DoctorReport {
  ok: boolean;
  node: string;
  platform: string;
  cpu: string;
  cores: number;
  libtorch: string;
  threads: number;
  cuda: { built: boolean; available: boolean; devices: number };
  addon: string;
  check: { conv: string; ms: number; maxAbsDiff: number };
}

/** Runs a tiny convolution two ways (conv2d vs the same sum done by hand) and reports the setup. */
export function doctor(opts: { threads?: number } = {}): DoctorReport {
  if (opts.threads) setNumThreads(opts.threads);
  const info = engineInfo();
  manualSeed(0);
  const before = liveTensors();
  const t0 = performance.now();
  // A 1x1 convolution equals a matrix product over channels: an independent check of the numbers.
  const diff = tidy(() =>
    noGrad(() => {
      const x = randn([2, 8, 16, 16]);
      const w = randn([4, 8, 1, 1]);
      const y = F.conv2d(x, w, null);
      const ref = w
        .reshape(4, 8)
        .matmul(x.permute(1, 0, 2, 3).reshape(8, -1))
        .reshape(4, 2, 16, 16)
        .permute(1, 0, 2, 3);
      return y.sub(ref).abs().max().item();
    }),
  );
  const ms = performance.now() - t0;
  const leaked = liveTensors() - before;
  return {
    ok: diff < 1e-4 && leaked === 0,
    node: process.version,
    platform: `${os.platform()} ${os.arch()}`,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.availableParallelism?.() ?? os.cpus().length,
    libtorch: info.torchVersion,
    threads: getNumThreads(),
    cuda: { built: info.builtWithCuda, available: info.cudaAvailable, devices: info.cudaDeviceCount },
    addon: nativePath,
    check: {
      conv: `conv2d [2,8,16,16] x [4,8,1,1] vs matmul${leaked ? `, ${leaked} tensors leaked` : ''}`,
      ms,
      maxAbsDiff: diff,
    },
  };
}

export function formatDoctor(r: DoctorReport): string {
  const cuda = r.cuda.available
    ? `yes (${r.cuda.devices} device${r.cuda.devices === 1 ? '' : 's'})`
    : r.cuda.built
      ? 'built with CUDA, no GPU visible'
      : 'no (CPU build)';
  return [
    `facesr doctor`,
    `  node       ${r.node} on ${r.platform}`,
    `  cpu        ${r.cpu} (${r.cores} cores)`,
    `  libtorch   ${r.libtorch}`,
    `  threads    ${r.threads}`,
    `  cuda       ${cuda}`,
    `  addon      ${r.addon}`,
    `  check      ${r.check.conv}: max |diff| ${r.check.maxAbsDiff.toExponential(2)} in ${r.check.ms.toFixed(1)} ms`,
    r.ok ? 'OK: the engine works.' : 'PROBLEM: the engine check failed (see above).',
  ].join('\n');
}
