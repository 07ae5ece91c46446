// The Tensor class: a thin, typed wrapper over a libtorch tensor handle.
import { native, type Handle } from '../binding/native.js';
import { ArgumentError, ShapeError } from '../core/errors.js';
import { checkInt } from '../core/check.js';
import { type DType, type Device, type TypedArray, checkDtype, checkDevice } from './dtype.js';
import { track, setTensorCheck } from './scope.js';

type Scalar = number | boolean;
type TensorOrNumber = Tensor | number;

function h(v: TensorOrNumber): Handle | number {
  return typeof v === 'number' ? v : v.handle;
}

/**
 * An n-dimensional array on the CPU or a CUDA device, with autograd. Every op returns a new Tensor
 * (in-place ops end in `_` and return `this`). Free tensors with `dispose()` or create them inside
 * `tidy()`: memory held by libtorch is not visible to V8's garbage collector.
 */
export class Tensor {
  #h: Handle | null;
  #shape: number[] | undefined;

  /** Wraps a native handle. Internal: use the factories in this module instead. */
  constructor(handle: Handle) {
    this.#h = handle;
    track(this);
  }

  /** The native handle; throws if the tensor was disposed. */
  get handle(): Handle {
    if (this.#h === null) throw new ArgumentError('Tensor used after dispose()');
    return this.#h;
  }

  get isDisposed(): boolean {
    return this.#h === null;
  }

  /** Releases the tensor's memory now (idempotent). Views of it stay valid. */
  dispose(): void {
    if (this.#h !== null) {
      native.dispose(this.#h);
      this.#h = null;
    }
  }

  get shape(): readonly number[] {
    return (this.#shape ??= native.shape(this.handle));
  }
  get ndim(): number {
    return this.shape.length;
  }
  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
  get dtype(): DType {
    return native.dtype(this.handle) as DType;
  }
  get device(): Device {
    return native.device(this.handle) as Device;
  }
  /** Size of one dimension; negative dims count from the end. */
  size(dim: number): number {
    const n = this.ndim;
    const d = dim < 0 ? dim + n : dim;
    if (!Number.isInteger(d) || d < 0 || d >= n)
      throw new ArgumentError(`size(${dim}): tensor has ${n} dims`);
    return this.shape[d]!;
  }
  get strides(): number[] {
    return native.strides(this.handle);
  }
  isContiguous(): boolean {
    return native.isContiguous(this.handle);
  }
  toString(): string {
    return `Tensor(shape=[${this.shape.join(', ')}], dtype=${this.dtype}, device=${this.device}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }

  // ---- data out ----
  /** The single value of a one-element tensor. */
  item(): number {
    return Number(native.item(this.handle));
  }
  /** Copies the elements out as a typed array of the tensor's dtype (float16/bfloat16 as raw Uint16Array). */
  data(): TypedArray {
    const buf = native.toBuffer(this.handle);
    switch (this.dtype) {
      case 'float32':
        return new Float32Array(buf);
      case 'float64':
        return new Float64Array(buf);
      case 'int32':
        return new Int32Array(buf);
      case 'int16':
        return new Int16Array(buf);
      case 'int8':
        return new Int8Array(buf);
      case 'int64':
        return new BigInt64Array(buf);
      case 'float16':
      case 'bfloat16':
        return new Uint16Array(buf);
      default:
        return new Uint8Array(buf);
    }
  }
  /** Elements as float32 (any dtype converted). */
  toFloat32Array(): Float32Array {
    if (this.dtype === 'float32') return this.data() as Float32Array;
    const t = native.to(this.handle, 'float32', null);
    try {
      return new Float32Array(native.toBuffer(t));
    } finally {
      native.dispose(t);
    }
  }
  /** Elements as a nested JS array (small tensors; for debugging and tests). */
  toArray(): unknown {
    const flat = Array.from(this.toFloat32Array());
    const build = (dim: number, offset: number): unknown => {
      if (dim === this.ndim) return flat[offset];
      const stride = this.shape.slice(dim + 1).reduce((a, b) => a * b, 1);
      return Array.from({ length: this.shape[dim]! }, (_, i) => build(dim + 1, offset + i * stride));
    };
    return build(0, 0);
  }
  /** Raw bytes of the tensor (contiguous, on the CPU). */
  bytes(): Uint8Array {
    return new Uint8Array(native.toBuffer(this.handle));
  }

  // ---- conversion ----
  /** Converts to a dtype and/or device; returns a new tensor (a copy only when needed unless copy). */
  to(opts: { dtype?: DType; device?: Device; copy?: boolean } | DType | Device): Tensor {
    const o =
      typeof opts === 'string'
        ? opts === 'cpu' || opts.startsWith('cuda')
          ? { device: opts as Device }
          : { dtype: opts as DType }
        : opts;
    if (o.dtype !== undefined) checkDtype(o.dtype);
    if (o.device !== undefined) checkDevice(o.device);
    return new Tensor(native.to(this.handle, o.dtype ?? null, o.device ?? null, o.copy ?? false));
  }
  float(): Tensor {
    return this.to({ dtype: 'float32' });
  }
  contiguous(): Tensor {
    return new Tensor(native.contiguous(this.handle));
  }
  clone(): Tensor {
    return new Tensor(native.clone(this.handle));
  }
  /** Same data, cut from the autograd graph. */
  detach(): Tensor {
    return new Tensor(native.detach(this.handle));
  }

  /** Replaces this tensor's data in place (torch's `t.data = src`): identity and requiresGrad stay. */
  setData_(src: Tensor): this {
    native.setData(this.handle, src.handle);
    this.#shape = undefined;
    return this;
  }

  // ---- autograd ----
  get requiresGrad(): boolean {
    return native.requiresGrad(this.handle);
  }
  /** Sets requires_grad in place (leaf tensors); returns this. */
  requiresGrad_(on = true): this {
    native.setRequiresGrad(this.handle, on);
    return this;
  }
  get isLeaf(): boolean {
    return native.isLeaf(this.handle);
  }
  /** The accumulated gradient, or null. Each access returns a new handle to the same memory. */
  get grad(): Tensor | null {
    const g = native.grad(this.handle);
    return g === null ? null : new Tensor(g);
  }
  set grad(g: Tensor | null) {
    native.setGrad(this.handle, g === null ? null : g.handle);
  }
  retainGrad(): this {
    native.retainGrad(this.handle);
    return this;
  }
  /** Back-propagates from this tensor (a scalar unless gradient is given). */
  backward(gradient?: Tensor, opts: { retainGraph?: boolean } = {}): void {
    native.backward(this.handle, gradient?.handle, opts.retainGraph ?? false);
  }

  // ---- element-wise ----
  add(o: TensorOrNumber, alpha?: number): Tensor {
    if (alpha !== undefined && typeof o !== 'number')
      return new Tensor(native.addScaled(this.handle, o.handle, alpha));
    return new Tensor(native.add(this.handle, alpha !== undefined ? (o as number) * alpha : h(o)));
  }
  sub(o: TensorOrNumber): Tensor {
    return new Tensor(native.sub(this.handle, h(o)));
  }
  /** s - this */
  rsub(s: number): Tensor {
    return new Tensor(native.rsub(this.handle, s));
  }
  mul(o: TensorOrNumber): Tensor {
    return new Tensor(native.mul(this.handle, h(o)));
  }
  div(o: TensorOrNumber): Tensor {
    return new Tensor(native.div(this.handle, h(o)));
  }
  pow(o: TensorOrNumber): Tensor {
    return new Tensor(native.pow(this.handle, h(o)));
  }
  remainder(o: TensorOrNumber): Tensor {
    return new Tensor(native.remainder(this.handle, h(o)));
  }
  maximum(o: TensorOrNumber): Tensor {
    return new Tensor(native.maximum(this.handle, h(o)));
  }
  minimum(o: TensorOrNumber): Tensor {
    return new Tensor(native.minimum(this.handle, h(o)));
  }
  atan2(o: Tensor): Tensor {
    return new Tensor(native.atan2(this.handle, o.handle));
  }
  lerp(end: Tensor, weight: number): Tensor {
    return new Tensor(native.lerp(this.handle, end.handle, weight));
  }
  eq(o: TensorOrNumber): Tensor {
    return new Tensor(native.eq(this.handle, h(o)));
  }
  ne(o: TensorOrNumber): Tensor {
    return new Tensor(native.ne(this.handle, h(o)));
  }
  lt(o: TensorOrNumber): Tensor {
    return new Tensor(native.lt(this.handle, h(o)));
  }
  le(o: TensorOrNumber): Tensor {
    return new Tensor(native.le(this.handle, h(o)));
  }
  gt(o: TensorOrNumber): Tensor {
    return new Tensor(native.gt(this.handle, h(o)));
  }
  ge(o: TensorOrNumber): Tensor {
    return new Tensor(native.ge(this.handle, h(o)));
  }
  logicalAnd(o: TensorOrNumber): Tensor {
    return new Tensor(native.logicalAnd(this.handle, h(o)));
  }
  logicalOr(o: TensorOrNumber): Tensor {
    return new Tensor(native.logicalOr(this.handle, h(o)));
  }
  logicalNot(): Tensor {
    return new Tensor(native.logicalNot(this.handle));
  }
  neg(): Tensor {
    return new Tensor(native.neg(this.handle));
  }
  abs(): Tensor {
    return new Tensor(native.abs(this.handle));
  }
  exp(): Tensor {
    return new Tensor(native.exp(this.handle));
  }
  log(): Tensor {
    return new Tensor(native.log(this.handle));
  }
  log1p(): Tensor {
    return new Tensor(native.log1p(this.handle));
  }
  expm1(): Tensor {
    return new Tensor(native.expm1(this.handle));
  }
  sqrt(): Tensor {
    return new Tensor(native.sqrt(this.handle));
  }
  rsqrt(): Tensor {
    return new Tensor(native.rsqrt(this.handle));
  }
  square(): Tensor {
    return new Tensor(native.square(this.handle));
  }
  reciprocal(): Tensor {
    return new Tensor(native.reciprocal(this.handle));
  }
  sin(): Tensor {
    return new Tensor(native.sin(this.handle));
  }
  cos(): Tensor {
    return new Tensor(native.cos(this.handle));
  }
  sign(): Tensor {
    return new Tensor(native.sign(this.handle));
  }
  floor(): Tensor {
    return new Tensor(native.floor(this.handle));
  }
  ceil(): Tensor {
    return new Tensor(native.ceil(this.handle));
  }
  round(): Tensor {
    return new Tensor(native.round(this.handle));
  }
  erf(): Tensor {
    return new Tensor(native.erf(this.handle));
  }
  isnan(): Tensor {
    return new Tensor(native.isnan(this.handle));
  }
  isfinite(): Tensor {
    return new Tensor(native.isfinite(this.handle));
  }
  /** Clamps to [min, max]; either bound may be null. */
  clamp(min: number | null, max: number | null = null): Tensor {
    return new Tensor(native.clamp(this.handle, min, max));
  }

  // ---- activations ----
  relu(): Tensor {
    return new Tensor(native.relu(this.handle));
  }
  leakyRelu(slope = 0.01): Tensor {
    return new Tensor(native.leakyRelu(this.handle, slope));
  }
  sigmoid(): Tensor {
    return new Tensor(native.sigmoid(this.handle));
  }
  tanh(): Tensor {
    return new Tensor(native.tanh(this.handle));
  }
  softplus(beta = 1, threshold = 20): Tensor {
    return new Tensor(native.softplus(this.handle, beta, threshold));
  }
  elu(alpha = 1): Tensor {
    return new Tensor(native.elu(this.handle, alpha));
  }
  silu(): Tensor {
    return new Tensor(native.silu(this.handle));
  }
  gelu(): Tensor {
    return new Tensor(native.gelu(this.handle));
  }
  hardtanh(min = -1, max = 1): Tensor {
    return new Tensor(native.hardtanh(this.handle, min, max));
  }
  prelu(weight: Tensor): Tensor {
    return new Tensor(native.prelu(this.handle, weight.handle));
  }
  softmax(dim: number): Tensor {
    return new Tensor(native.softmax(this.handle, dim));
  }
  logSoftmax(dim: number): Tensor {
    return new Tensor(native.logSoftmax(this.handle, dim));
  }

  // ---- reductions ----
  sum(dims?: number | readonly number[], keepdim = false): Tensor {
    return new Tensor(native.sum(this.handle, dims ?? null, keepdim));
  }
  mean(dims?: number | readonly number[], keepdim = false): Tensor {
    return new Tensor(native.mean(this.handle, dims ?? null, keepdim));
  }
  amax(dims?: number | readonly number[], keepdim = false): Tensor {
    return new Tensor(native.amax(this.handle, dims ?? null, keepdim));
  }
  amin(dims?: number | readonly number[], keepdim = false): Tensor {
    return new Tensor(native.amin(this.handle, dims ?? null, keepdim));
  }
  logsumexp(dims: number | readonly number[], keepdim = false): Tensor {
    return new Tensor(native.logsumexp(this.handle, dims, keepdim));
  }
  prod(dim?: number, keepdim = false): Tensor {
    return new Tensor(native.prod(this.handle, dim ?? null, keepdim));
  }
  /** Variance; correction 1 is Bessel's (PyTorch's default), 0 the population variance. */
  var(dims?: number | readonly number[], opts: { correction?: number; keepdim?: boolean } = {}): Tensor {
    return new Tensor(native.var(this.handle, dims ?? null, opts.correction ?? 1, opts.keepdim ?? false));
  }
  std(dims?: number | readonly number[], opts: { correction?: number; keepdim?: boolean } = {}): Tensor {
    return new Tensor(native.std(this.handle, dims ?? null, opts.correction ?? 1, opts.keepdim ?? false));
  }
  norm(p = 2, dims?: number | readonly number[], keepdim = false): Tensor {
    return new Tensor(native.norm(this.handle, p, dims ?? null, keepdim));
  }
  /** Max over one dim: values and indices. */
  maxDim(dim: number, keepdim = false): { values: Tensor; indices: Tensor } {
    const [v, i] = native.maxDim(this.handle, dim, keepdim);
    return { values: new Tensor(v), indices: new Tensor(i) };
  }
  minDim(dim: number, keepdim = false): { values: Tensor; indices: Tensor } {
    const [v, i] = native.minDim(this.handle, dim, keepdim);
    return { values: new Tensor(v), indices: new Tensor(i) };
  }
  max(): Tensor {
    return this.amax();
  }
  min(): Tensor {
    return this.amin();
  }
  argmax(dim?: number, keepdim = false): Tensor {
    return new Tensor(native.argmax(this.handle, dim ?? null, keepdim));
  }
  argmin(dim?: number, keepdim = false): Tensor {
    return new Tensor(native.argmin(this.handle, dim ?? null, keepdim));
  }
  all(): Tensor {
    return new Tensor(native.all(this.handle));
  }
  any(): Tensor {
    return new Tensor(native.any(this.handle));
  }
  topk(
    k: number,
    opts: { dim?: number; largest?: boolean; sorted?: boolean } = {},
  ): { values: Tensor; indices: Tensor } {
    const [v, i] = native.topk(this.handle, k, opts.dim ?? -1, opts.largest ?? true, opts.sorted ?? true);
    return { values: new Tensor(v), indices: new Tensor(i) };
  }
  sort(opts: { dim?: number; descending?: boolean; stable?: boolean } = {}): {
    values: Tensor;
    indices: Tensor;
  } {
    const [v, i] = native.sort(this.handle, opts.dim ?? -1, opts.descending ?? false, opts.stable ?? false);
    return { values: new Tensor(v), indices: new Tensor(i) };
  }
  argsort(opts: { dim?: number; descending?: boolean } = {}): Tensor {
    const { values, indices } = this.sort(opts);
    values.dispose();
    return indices;
  }
  cumsum(dim: number): Tensor {
    return new Tensor(native.cumsum(this.handle, dim));
  }

  // ---- linear algebra ----
  matmul(o: Tensor): Tensor {
    return new Tensor(native.matmul(this.handle, o.handle));
  }
  mv(o: Tensor): Tensor {
    return new Tensor(native.mv(this.handle, o.handle));
  }
  dot(o: Tensor): Tensor {
    return new Tensor(native.dot(this.handle, o.handle));
  }
  outer(o: Tensor): Tensor {
    return new Tensor(native.outer(this.handle, o.handle));
  }

  // ---- shape and indexing ----
  reshape(...shape: number[] | [readonly number[]]): Tensor {
    return new Tensor(native.reshape(this.handle, flatShape(shape)));
  }
  view(...shape: number[] | [readonly number[]]): Tensor {
    return new Tensor(native.view(this.handle, flatShape(shape)));
  }
  permute(...dims: number[] | [readonly number[]]): Tensor {
    return new Tensor(native.permute(this.handle, flatShape(dims)));
  }
  transpose(d0: number, d1: number): Tensor {
    return new Tensor(native.transpose(this.handle, d0, d1));
  }
  squeeze(dim?: number): Tensor {
    return new Tensor(native.squeeze(this.handle, dim ?? null));
  }
  unsqueeze(dim: number): Tensor {
    return new Tensor(native.unsqueeze(this.handle, dim));
  }
  flatten(start = 0, end = -1): Tensor {
    return new Tensor(native.flatten(this.handle, start, end));
  }
  expand(...shape: number[] | [readonly number[]]): Tensor {
    return new Tensor(native.expand(this.handle, flatShape(shape)));
  }
  repeat(...reps: number[] | [readonly number[]]): Tensor {
    return new Tensor(native.repeat(this.handle, flatShape(reps)));
  }
  flip(dims: number | readonly number[]): Tensor {
    return new Tensor(native.flip(this.handle, dims));
  }
  roll(shifts: number | readonly number[], dims: number | readonly number[]): Tensor {
    return new Tensor(native.roll(this.handle, shifts, dims));
  }
  /** Elements start..end (exclusive; negative counts from the end; null = to the end) of one dim, a view. */
  slice(dim: number, start: number | null = 0, end: number | null = null, step = 1): Tensor {
    return new Tensor(native.slice(this.handle, dim, start, end, step));
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return new Tensor(native.narrow(this.handle, dim, start, length));
  }
  /** Index i of one dim, removing that dim (a view). */
  select(dim: number, index: number): Tensor {
    return new Tensor(native.select(this.handle, dim, index));
  }
  indexSelect(dim: number, index: Tensor): Tensor {
    return new Tensor(native.indexSelect(this.handle, dim, index.handle));
  }
  /** Advanced indexing x[i0, i1, ...]: an index tensor per leading dim, null for ':'. */
  index(indices: readonly (Tensor | null)[]): Tensor {
    return new Tensor(
      native.index(
        this.handle,
        indices.map((t) => (t === null ? null : t.handle)),
      ),
    );
  }
  indexPut(indices: readonly (Tensor | null)[], values: Tensor, accumulate = false): Tensor {
    return new Tensor(
      native.indexPut(
        this.handle,
        indices.map((t) => (t === null ? null : t.handle)),
        values.handle,
        accumulate,
      ),
    );
  }
  gather(dim: number, index: Tensor): Tensor {
    return new Tensor(native.gather(this.handle, dim, index.handle));
  }
  scatter(dim: number, index: Tensor, src: Tensor): Tensor {
    return new Tensor(native.scatter(this.handle, dim, index.handle, src.handle));
  }
  maskedFill(mask: Tensor, value: Scalar): Tensor {
    return new Tensor(native.maskedFill(this.handle, mask.handle, value));
  }
  split(sizes: number | readonly number[], dim = 0): Tensor[] {
    let s: readonly number[];
    if (typeof sizes === 'number') {
      checkInt(sizes, 'split size', 1);
      const n = this.size(dim);
      s = Array.from({ length: Math.ceil(n / sizes) }, (_, i) => Math.min(sizes, n - i * sizes));
    } else s = sizes;
    return native.split(this.handle, s, dim).map((x) => new Tensor(x));
  }
  chunk(chunks: number, dim = 0): Tensor[] {
    return native.chunk(this.handle, chunks, dim).map((x) => new Tensor(x));
  }
  tril(diagonal = 0): Tensor {
    return new Tensor(native.tril(this.handle, diagonal));
  }
  triu(diagonal = 0): Tensor {
    return new Tensor(native.triu(this.handle, diagonal));
  }
  nonzero(): Tensor {
    return new Tensor(native.nonzero(this.handle));
  }

  // ---- in place (no autograd on leaves that require grad: use inside noGrad) ----
  add_(o: TensorOrNumber, alpha?: number): this {
    native.addInplace(this.handle, h(o), alpha);
    return this;
  }
  mul_(o: TensorOrNumber): this {
    native.mulInplace(this.handle, h(o));
    return this;
  }
  div_(o: TensorOrNumber): this {
    native.divInplace(this.handle, h(o));
    return this;
  }
  copy_(src: Tensor): this {
    native.copyInplace(this.handle, src.handle);
    return this;
  }
  fill_(v: Scalar): this {
    native.fillInplace(this.handle, v);
    return this;
  }
  zero_(): this {
    return this.fill_(0);
  }
  /** Samples Poisson(rate) per element, rates being this tensor (seeded global generator). */
  poisson(): Tensor {
    return new Tensor(native.poisson(this.handle));
  }
  /** Samples Bernoulli(p) per element, p being this tensor. */
  bernoulli(): Tensor {
    return new Tensor(native.bernoulli(this.handle));
  }
  clamp_(min: number | null, max: number | null = null): this {
    native.clampInplace(this.handle, min, max);
    return this;
  }
  normal_(mean = 0, std = 1): this {
    native.normalInplace(this.handle, mean, std);
    return this;
  }
  uniform_(low = 0, high = 1): this {
    native.uniformInplace(this.handle, low, high);
    return this;
  }
  lerp_(end: Tensor, weight: number): this {
    native.lerpInplace(this.handle, end.handle, weight);
    return this;
  }
}

function flatShape(args: number[] | [readonly number[]]): readonly number[] {
  return Array.isArray(args[0]) ? (args[0] as readonly number[]) : (args as number[]);
}

setTensorCheck((v: unknown): v is Tensor => v instanceof Tensor);

/** Throws a ShapeError naming both shapes unless a and b have the same shape. */
export function assertSameShape(a: Tensor, b: Tensor, what: string): void {
  const sa = a.shape;
  const sb = b.shape;
  if (sa.length !== sb.length || sa.some((v, i) => v !== sb[i])) {
    throw new ShapeError(`${what}: shapes differ: [${sa.join(', ')}] vs [${sb.join(', ')}]`);
  }
}
