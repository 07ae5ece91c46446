// Factories: from JS data, constants, ranges, random; and images (uint8 HWC <-> float NCHW).
import { native } from '../binding/native.js';
import { ArgumentError } from '../core/errors.js';
import { checkInt, invalid } from '../core/check.js';
import {
  type DType,
  type Device,
  type TypedArray,
  checkDtype,
  dtypeOfArray,
  bytesPerElement,
} from './dtype.js';
import { Tensor } from './tensor.js';
import { tidy } from './scope.js';

export interface CreateOptions {
  dtype?: DType;
  device?: Device;
  requiresGrad?: boolean;
}

function shapeOf(shape: number | readonly number[], name = 'shape'): number[] {
  const s = typeof shape === 'number' ? [shape] : [...shape];
  s.forEach((d, i) => checkInt(d, `${name}[${i}]`, 0));
  return s;
}

function finish(t: Tensor, o: CreateOptions): Tensor {
  if (o.requiresGrad) t.requiresGrad_(true);
  return t;
}

function flatten(data: unknown, shape: number[], out: number[], depth = 0): void {
  if (Array.isArray(data)) {
    if (shape.length === depth) shape.push(data.length);
    else if (shape[depth] !== data.length)
      throw new ArgumentError(`tensor(): ragged nested array at depth ${depth}`);
    for (const v of data) flatten(v, shape, out, depth + 1);
  } else if (typeof data === 'number' || typeof data === 'boolean') {
    if (depth !== shape.length) throw new ArgumentError(`tensor(): ragged nested array at depth ${depth}`);
    out.push(Number(data));
  } else {
    throw invalid('number, boolean or nested array of them', 'tensor data', data);
  }
}

/** A tensor from a number, nested arrays or a typed array (copied). Default dtype float32 (typed arrays: their own). */
export function tensor(data: unknown, opts: CreateOptions & { shape?: readonly number[] } = {}): Tensor {
  if (ArrayBuffer.isView(data)) {
    const arr = data as TypedArray;
    return fromTypedArray(arr, opts.shape ?? [arr.length], opts);
  }
  const shape: number[] = [];
  const flat: number[] = [];
  flatten(data, shape, flat);
  const dtype = opts.dtype ?? 'float32';
  const f64 = Float64Array.from(flat);
  let t = new Tensor(native.fromBuffer(f64, opts.shape ?? shape, 'float64', opts.device));
  if (dtype !== 'float64') {
    const t2 = t.to({ dtype });
    t.dispose();
    t = t2;
  }
  return finish(t, opts);
}

/** Copies a typed array into a new tensor of the given shape; dtype defaults to the array's. */
export function fromTypedArray(arr: TypedArray, shape: readonly number[], opts: CreateOptions = {}): Tensor {
  const native_dtype = dtypeOfArray(arr);
  const s = shapeOf(shape);
  const n = s.reduce((a, b) => a * b, 1);
  if (n * bytesPerElement(native_dtype) !== arr.byteLength) {
    throw new ArgumentError(
      `fromTypedArray: shape [${s.join(', ')}] has ${n} elements but the array has ${arr.length}`,
    );
  }
  let t = new Tensor(native.fromBuffer(arr, s, native_dtype, opts.device));
  if (opts.dtype && opts.dtype !== native_dtype) {
    const t2 = t.to({ dtype: checkDtype(opts.dtype) });
    t.dispose();
    t = t2;
  }
  return finish(t, opts);
}

/** Interprets raw bytes (e.g. from a safetensors file) as a tensor of dtype and shape. */
export function fromBytes(
  bytes: Uint8Array,
  shape: readonly number[],
  dtype: DType,
  device?: Device,
): Tensor {
  return new Tensor(native.fromBuffer(bytes, shapeOf(shape), checkDtype(dtype), device));
}

export function full(
  shape: number | readonly number[],
  value: number | boolean,
  opts: CreateOptions = {},
): Tensor {
  return finish(
    new Tensor(
      native.full(
        shapeOf(shape),
        value,
        opts.dtype ?? (typeof value === 'boolean' ? 'bool' : 'float32'),
        opts.device,
      ),
    ),
    opts,
  );
}
export function zeros(shape: number | readonly number[], opts: CreateOptions = {}): Tensor {
  return full(shape, 0, opts);
}
export function ones(shape: number | readonly number[], opts: CreateOptions = {}): Tensor {
  return full(shape, 1, opts);
}
export function empty(shape: number | readonly number[], opts: CreateOptions = {}): Tensor {
  return finish(new Tensor(native.empty(shapeOf(shape), opts.dtype ?? 'float32', opts.device)), opts);
}
export function zerosLike(t: Tensor, opts: CreateOptions = {}): Tensor {
  return zeros(t.shape, { dtype: t.dtype, device: t.device, ...opts });
}
export function onesLike(t: Tensor, opts: CreateOptions = {}): Tensor {
  return ones(t.shape, { dtype: t.dtype, device: t.device, ...opts });
}
export function fullLike(t: Tensor, value: number, opts: CreateOptions = {}): Tensor {
  return full(t.shape, value, { dtype: t.dtype, device: t.device, ...opts });
}
/** [start, end) with step; one argument means [0, n). Default dtype int64 for integers, else float32. */
export function arange(start: number, end?: number, step = 1, opts: CreateOptions = {}): Tensor {
  const [a, b] = end === undefined ? [0, start] : [start, end];
  const intLike = [a, b, step].every(Number.isInteger);
  return finish(
    new Tensor(native.arange(a, b, step, opts.dtype ?? (intLike ? 'int64' : 'float32'), opts.device)),
    opts,
  );
}
export function linspace(start: number, end: number, steps: number, opts: CreateOptions = {}): Tensor {
  return finish(
    new Tensor(
      native.linspace(start, end, checkInt(steps, 'steps', 0), opts.dtype ?? 'float32', opts.device),
    ),
    opts,
  );
}
export function eye(n: number, opts: CreateOptions = {}): Tensor {
  return finish(new Tensor(native.eye(checkInt(n, 'n', 0), opts.dtype ?? 'float32', opts.device)), opts);
}
/** Standard normal samples from the seeded global generator (see manualSeed). */
export function randn(shape: number | readonly number[], opts: CreateOptions = {}): Tensor {
  return finish(new Tensor(native.randn(shapeOf(shape), opts.dtype ?? 'float32', opts.device)), opts);
}
/** Uniform [0, 1) samples from the seeded global generator. */
export function rand(shape: number | readonly number[], opts: CreateOptions = {}): Tensor {
  return finish(new Tensor(native.rand(shapeOf(shape), opts.dtype ?? 'float32', opts.device)), opts);
}
/** Integers in [low, high). */
export function randint(
  low: number,
  high: number,
  shape: number | readonly number[],
  opts: CreateOptions = {},
): Tensor {
  return new Tensor(native.randint(low, high, shapeOf(shape), opts.dtype ?? 'int64', opts.device));
}
export function randperm(n: number, opts: CreateOptions = {}): Tensor {
  return new Tensor(native.randperm(checkInt(n, 'n', 0), opts.dtype ?? 'int64', opts.device));
}

// ---- joining ----
export function cat(ts: readonly Tensor[], dim = 0): Tensor {
  if (ts.length === 0) throw new ArgumentError('cat: expected at least one tensor');
  return new Tensor(
    native.cat(
      ts.map((t) => t.handle),
      dim,
    ),
  );
}
export function stack(ts: readonly Tensor[], dim = 0): Tensor {
  if (ts.length === 0) throw new ArgumentError('stack: expected at least one tensor');
  return new Tensor(
    native.stack(
      ts.map((t) => t.handle),
      dim,
    ),
  );
}
/** Element-wise choice: cond ? a : b (tensors or numbers, broadcast). */
export function where(cond: Tensor, a: Tensor | number, b: Tensor | number): Tensor {
  return new Tensor(
    native.where(cond.handle, typeof a === 'number' ? a : a.handle, typeof b === 'number' ? b : b.handle),
  );
}

// ---- images ----
export interface ImageLayout {
  width: number;
  height: number;
  channels: number;
}

/**
 * Interleaved uint8 pixels (HWC, as sharp's raw output) to a float32 [1, C, H, W] tensor.
 * range '0,1' (default) divides by 255; '-1,1' maps to [-1, 1] as the models expect.
 */
export function imageToTensor(
  pixels: Uint8Array,
  layout: ImageLayout,
  opts: { range?: '0,1' | '-1,1'; device?: Device } = {},
): Tensor {
  const { width, height, channels } = layout;
  checkInt(width, 'width', 1);
  checkInt(height, 'height', 1);
  checkInt(channels, 'channels', 1);
  if (pixels.length !== width * height * channels) {
    throw new ArgumentError(
      `imageToTensor: ${width}x${height}x${channels} needs ${width * height * channels} bytes but received ${pixels.length}`,
    );
  }
  return tidy(() => {
    const u8 = new Tensor(native.fromBuffer(pixels, [height, width, channels], 'uint8', opts.device));
    const chw = u8.permute(2, 0, 1).unsqueeze(0).to({ dtype: 'float32' });
    return opts.range === '-1,1' ? chw.mul(2 / 255).sub(1) : chw.div(255);
  });
}

/** A [1, C, H, W] or [C, H, W] float tensor (range as in imageToTensor) to interleaved uint8 HWC pixels. */
export function tensorToImage(
  t: Tensor,
  opts: { range?: '0,1' | '-1,1' } = {},
): { pixels: Uint8Array } & ImageLayout {
  const s = t.shape;
  if (!(s.length === 3 || (s.length === 4 && s[0] === 1))) {
    throw new ArgumentError(
      `tensorToImage: expected [1, C, H, W] or [C, H, W] but received [${s.join(', ')}]`,
    );
  }
  const [c, hgt, w] = s.slice(-3) as [number, number, number];
  const bytes = tidy(() => {
    let x = t.detach().to({ dtype: 'float32' });
    if (s.length === 4) x = x.squeeze(0);
    x = opts.range === '-1,1' ? x.add(1).mul(127.5) : x.mul(255);
    return x.round().clamp(0, 255).to({ dtype: 'uint8' }).permute(1, 2, 0).contiguous().to({ device: 'cpu' });
  });
  try {
    return { pixels: bytes.bytes(), width: w, height: hgt, channels: c };
  } finally {
    bytes.dispose();
  }
}
