// The only module that loads the compiled addon. Everything native goes through `native`.
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { NativeLoadError } from '../core/errors.js';

/** Opaque handle to a libtorch tensor owned by the addon. */
export type Handle = { readonly __brand: 'TensorHandle' };
type H = Handle;
type Opt = Handle | null | undefined;
type Num = number | boolean;
type HN = Handle | number;
type Ints = number | readonly number[];

export interface NativeInfo {
  torchVersion: string;
  cudaAvailable: boolean;
  cudaDeviceCount: number;
  builtWithCuda: boolean;
  mkldnn: boolean;
  openmp: boolean;
  parallelInfo: string;
  cxx11Abi: boolean;
}

/** Typed view of every export of native/src. Argument order matches the C++ comments there. */
export interface Native {
  // creation and conversion
  fromBuffer(data: ArrayBufferView | ArrayBuffer, shape: Ints, dtype: string, device?: string): H;
  toBuffer(t: H): ArrayBuffer;
  full(shape: Ints, value: Num, dtype?: string, device?: string): H;
  empty(shape: Ints, dtype?: string, device?: string): H;
  arange(start: number, end: number, step: number, dtype?: string, device?: string): H;
  linspace(start: number, end: number, steps: number, dtype?: string, device?: string): H;
  eye(n: number, dtype?: string, device?: string): H;
  randn(shape: Ints, dtype?: string, device?: string): H;
  rand(shape: Ints, dtype?: string, device?: string): H;
  randint(low: number, high: number, shape: Ints, dtype?: string, device?: string): H;
  randperm(n: number, dtype?: string, device?: string): H;
  manualSeed(seed: number): void;
  getRngState(device?: string): H;
  setRngState(state: H, device?: string): void;
  cudaSynchronize(): void;
  setMallocArenaMax(n: number): boolean;
  // metadata
  shape(t: H): number[];
  strides(t: H): number[];
  dtype(t: H): string;
  device(t: H): string;
  item(t: H): number | boolean;
  isContiguous(t: H): boolean;
  dispose(t: H): void;
  isDisposed(t: H): boolean;
  liveCount(): number;
  dataPtr(t: H): number;
  to(t: H, dtype: string | null, device: string | null, copy?: boolean): H;
  contiguous(t: H): H;
  clone(t: H): H;
  detach(t: H): H;
  setData(t: H, src: H): void;
  // autograd
  requiresGrad(t: H): boolean;
  setRequiresGrad(t: H, on: boolean): void;
  isLeaf(t: H): boolean;
  grad(t: H): H | null;
  setGrad(t: H, g: Opt): void;
  zeroGrads(ts: readonly H[]): void;
  retainGrad(t: H): void;
  backward(t: H, gradient: Opt, retainGraph: boolean): void;
  setGradEnabled(on: boolean): boolean;
  isGradEnabled(): boolean;
  inferenceEnter(): void;
  inferenceExit(): void;
  isInference(t: H): boolean;
  // runtime
  setNumThreads(n: number): void;
  getNumThreads(): number;
  setNumInteropThreads(n: number): void;
  info(): NativeInfo;
  // unary
  neg(t: H): H;
  abs(t: H): H;
  exp(t: H): H;
  log(t: H): H;
  log1p(t: H): H;
  expm1(t: H): H;
  sqrt(t: H): H;
  rsqrt(t: H): H;
  square(t: H): H;
  reciprocal(t: H): H;
  sin(t: H): H;
  cos(t: H): H;
  tanh(t: H): H;
  sigmoid(t: H): H;
  relu(t: H): H;
  sign(t: H): H;
  floor(t: H): H;
  ceil(t: H): H;
  round(t: H): H;
  erf(t: H): H;
  silu(t: H): H;
  gelu(t: H): H;
  logicalNot(t: H): H;
  isnan(t: H): H;
  isfinite(t: H): H;
  leakyRelu(t: H, slope: number): H;
  prelu(t: H, w: H): H;
  softplus(t: H, beta: number, threshold: number): H;
  elu(t: H, alpha: number): H;
  hardtanh(t: H, min: number, max: number): H;
  softmax(t: H, dim: number): H;
  logSoftmax(t: H, dim: number): H;
  // binary (tensor or number on the right)
  add(a: H, b: HN): H;
  sub(a: H, b: HN): H;
  mul(a: H, b: HN): H;
  div(a: H, b: HN): H;
  pow(a: H, b: HN): H;
  remainder(a: H, b: HN): H;
  maximum(a: H, b: HN): H;
  minimum(a: H, b: HN): H;
  eq(a: H, b: HN): H;
  ne(a: H, b: HN): H;
  lt(a: H, b: HN): H;
  le(a: H, b: HN): H;
  gt(a: H, b: HN): H;
  ge(a: H, b: HN): H;
  logicalAnd(a: H, b: HN): H;
  logicalOr(a: H, b: HN): H;
  atan2(a: H, b: H): H;
  rsub(a: H, s: number): H;
  addScaled(a: H, b: H, alpha: number): H;
  where(c: H, a: HN, b: HN): H;
  clamp(t: H, min: number | null, max: number | null): H;
  lerp(a: H, b: H, w: number): H;
  // reductions
  sum(t: H, dims: Ints | null, keepdim: boolean): H;
  mean(t: H, dims: Ints | null, keepdim: boolean): H;
  amax(t: H, dims: Ints | null, keepdim: boolean): H;
  amin(t: H, dims: Ints | null, keepdim: boolean): H;
  logsumexp(t: H, dims: Ints | null, keepdim: boolean): H;
  prod(t: H, dim: number | null, keepdim: boolean): H;
  var(t: H, dims: Ints | null, correction: number, keepdim: boolean): H;
  std(t: H, dims: Ints | null, correction: number, keepdim: boolean): H;
  norm(t: H, p: number, dims: Ints | null, keepdim: boolean): H;
  maxDim(t: H, dim: number, keepdim: boolean): [H, H];
  minDim(t: H, dim: number, keepdim: boolean): [H, H];
  argmax(t: H, dim: number | null, keepdim: boolean): H;
  argmin(t: H, dim: number | null, keepdim: boolean): H;
  all(t: H): H;
  any(t: H): H;
  topk(t: H, k: number, dim: number, largest: boolean, sorted: boolean): [H, H];
  sort(t: H, dim: number, descending: boolean, stable: boolean): [H, H];
  cumsum(t: H, dim: number): H;
  // linear algebra
  matmul(a: H, b: H): H;
  linear(x: H, w: H, b: Opt): H;
  mv(a: H, b: H): H;
  dot(a: H, b: H): H;
  outer(a: H, b: H): H;
  // in place (return the first argument)
  addInplace(a: H, b: HN, alpha?: number): H;
  mulInplace(a: H, b: HN): H;
  divInplace(a: H, b: HN): H;
  copyInplace(a: H, b: H): H;
  fillInplace(a: H, v: Num): H;
  clampInplace(a: H, min: number | null, max: number | null): H;
  normalInplace(a: H, mean: number, std: number): H;
  uniformInplace(a: H, low: number, high: number): H;
  lerpInplace(a: H, b: H, w: number): H;
  bernoulli(p: H): H;
  poisson(rates: H): H;
  dropout(t: H, p: number, train: boolean): H;
  // shape and indexing
  cat(ts: readonly H[], dim: number): H;
  stack(ts: readonly H[], dim: number): H;
  slice(t: H, dim: number, start: number | null, end: number | null, step: number): H;
  narrow(t: H, dim: number, start: number, length: number): H;
  select(t: H, dim: number, index: number): H;
  indexSelect(t: H, dim: number, index: H): H;
  index(t: H, indices: readonly Opt[]): H;
  indexPut(t: H, indices: readonly Opt[], values: H, accumulate: boolean): H;
  gather(t: H, dim: number, index: H): H;
  scatter(t: H, dim: number, index: H, src: H): H;
  maskedFill(t: H, mask: H, value: Num): H;
  reshape(t: H, shape: Ints): H;
  view(t: H, shape: Ints): H;
  permute(t: H, dims: Ints): H;
  transpose(t: H, d0: number, d1: number): H;
  squeeze(t: H, dim?: number | null): H;
  unsqueeze(t: H, dim: number): H;
  flatten(t: H, start: number, end: number): H;
  expand(t: H, shape: Ints): H;
  repeat(t: H, repeats: Ints): H;
  flip(t: H, dims: Ints): H;
  roll(t: H, shifts: Ints, dims: Ints): H;
  split(t: H, sizes: Ints, dim: number): H[];
  chunk(t: H, chunks: number, dim: number): H[];
  tril(t: H, diagonal: number): H;
  triu(t: H, diagonal: number): H;
  nonzero(t: H): H;
  pad(t: H, pads: Ints, mode: string, value: number): H;
  pixelShuffle(t: H, factor: number): H;
  pixelUnshuffle(t: H, factor: number): H;
  // nn
  conv2d(x: H, w: H, b: Opt, stride: Ints, padding: Ints, dilation: Ints, groups: number): H;
  convTranspose2d(
    x: H,
    w: H,
    b: Opt,
    stride: Ints,
    padding: Ints,
    outputPadding: Ints,
    groups: number,
    dilation: Ints,
  ): H;
  avgPool2d(x: H, kernel: Ints, stride: Ints, padding: Ints, ceilMode: boolean, countIncludePad: boolean): H;
  maxPool2d(x: H, kernel: Ints, stride: Ints, padding: Ints, dilation: Ints, ceilMode: boolean): H;
  adaptiveAvgPool2d(x: H, size: Ints): H;
  adaptiveMaxPool2d(x: H, size: Ints): H;
  interpolate(
    x: H,
    mode: string,
    size: Ints,
    scales: readonly number[] | null,
    alignCorners: boolean,
    antialias: boolean,
  ): H;
  batchNorm(x: H, w: Opt, b: Opt, rm: Opt, rv: Opt, training: boolean, momentum: number, eps: number): H;
  instanceNorm(
    x: H,
    w: Opt,
    b: Opt,
    rm: Opt,
    rv: Opt,
    useInputStats: boolean,
    momentum: number,
    eps: number,
  ): H;
  groupNorm(x: H, groups: number, w: Opt, b: Opt, eps: number): H;
  layerNorm(x: H, shape: Ints, w: Opt, b: Opt, eps: number): H;
  l1Loss(a: H, b: H, reduction: string): H;
  mseLoss(a: H, b: H, reduction: string): H;
  smoothL1Loss(a: H, b: H, reduction: string, beta: number): H;
  bceWithLogits(a: H, b: H, reduction: string): H;
  crossEntropy(a: H, b: H, reduction: string): H;
  affineGrid(theta: H, size: Ints, alignCorners: boolean): H;
  gridSample(x: H, grid: H, mode: number, padding: number, alignCorners: boolean): H;
  // optimizers
  adamStep(
    params: readonly H[],
    m: readonly H[],
    v: readonly H[],
    steps: Float64Array,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    weightDecay: number,
    decoupled: boolean,
  ): void;
  sgdStep(
    params: readonly H[],
    bufs: readonly H[],
    steps: Float64Array,
    lr: number,
    momentum: number,
    dampening: number,
    weightDecay: number,
    nesterov: boolean,
  ): void;
  clipGradNorm(params: readonly H[], maxNorm: number, normType: number): number;
  emaUpdate(target: readonly H[], source: readonly H[], decay: number): void;
}

function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = path.join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        if ((JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === 'facesr') return dir;
      } catch {
        // keep walking up
      }
    }
    const up = path.dirname(dir);
    if (up === dir)
      throw new NativeLoadError('facesr: cannot find the package root (package.json named facesr)');
    dir = up;
  }
}

/** Where the addon was loaded from (for `facesr doctor`). */
export let nativePath = '';

function load(): Native {
  const require = createRequire(import.meta.url);
  const root = packageRoot();
  const candidates = [
    process.env.FACESR_NATIVE,
    path.join(root, 'build', 'Release', 'facesr_native.node'),
    path.join(root, 'build', 'Debug', 'facesr_native.node'),
  ].filter((p): p is string => Boolean(p));
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    throw new NativeLoadError(
      [
        'facesr: the native addon is not built.',
        `  Looked in: ${candidates.join(', ')}`,
        '  Build it with: npm run build:native',
        '  It needs libtorch: on Debian `apt-get install libtorch-dev`, or set LIBTORCH to an unpacked libtorch.',
      ].join('\n'),
    );
  }
  try {
    const mod = require(found) as Native;
    nativePath = found;
    return mod;
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new NativeLoadError(
      [
        `facesr: the native addon at ${found} could not be loaded:`,
        `  ${msg}`,
        msg.includes('libtorch') || msg.includes('libc10') || msg.includes('.so')
          ? '  A libtorch shared library is missing: install libtorch-dev, or set LIBTORCH / LD_LIBRARY_PATH to the libtorch it was built against.'
          : '  Rebuild it with: npm run build:native',
      ].join('\n'),
      { cause: err },
    );
  }
}

export const native: Native = load();

// Debian's libtorch starts with one intra-op thread; use every core unless the user chose
// (OMP_NUM_THREADS / MKL_NUM_THREADS, or setNumThreads later).
if (!process.env.OMP_NUM_THREADS && !process.env.MKL_NUM_THREADS) {
  const cores = os.availableParallelism();
  if (native.getNumThreads() < cores) native.setNumThreads(cores);
}
