// Degradations that turn HR faces into LR ones (method.md section 5): down-sampling with PyTorch's
// interpolate, blur kernels with BasicSR's semantics, Gaussian and Poisson noise, JPEG through sharp,
// and seeded random pipelines of these: `bicubic4` / `area4` (plain x4) and `realistic`
// (blur kernel + down-sampling + noise + JPEG).
//
// Ranges: down-sampling and blur are linear and work on any range ([-1, 1] or [0, 1]); noise and JPEG
// work on [0, 1] images (sigma in 0-255 units, as BasicSR); the pipeline takes and returns the range
// it is given ('-1,1' by default, the range of the models).
//
// Randomness: every random choice of the pipeline and all of its noise come from its own JS
// generator (xoshiro128**, see Xoshiro128), never from libtorch's global generator. So a pipeline's output
// depends only on its seed and its input: not on manualSeed, not on what else runs (other threads
// share libtorch's one global generator with the training loop), and the global generator's state is
// left untouched. The standalone noise functions use the global
// generator (randn, Tensor.poisson) unless given an `rng`.
import sharp from 'sharp';
import { ArgumentError, ShapeError } from '../core/errors.js';
import { checkInt, checkNumber, checkOneOf, checkPositive, invalid } from '../core/check.js';
import { F, Tensor, cat, fromTypedArray, noGrad, randint, randn, tidy } from '../tensor/index.js';

/** Elements as float32 on the CPU (a copy). */
function hostFloat32(t: Tensor): Float32Array {
  if (t.device === 'cpu') return t.toFloat32Array();
  const host = t.to({ device: 'cpu' });
  try {
    return host.toFloat32Array();
  } finally {
    host.dispose();
  }
}

/** A tensor of the host floats with like's device and dtype (or the given one); no intermediate stays alive. */
function fromHost(data: Float32Array, shape: readonly number[], like: Tensor, dtype = like.dtype): Tensor {
  const t = fromTypedArray(data, shape);
  if (dtype === 'float32' && like.device === 'cpu') return t;
  try {
    return t.to({ dtype, device: like.device });
  } finally {
    t.dispose();
  }
}

function need4d(x: Tensor, op: string): [number, number, number, number] {
  if (x.ndim !== 4)
    throw new ShapeError(`${op}: expected a 4-d [N, C, H, W] tensor but received [${x.shape.join(', ')}]`);
  return x.shape as [number, number, number, number];
}

// ---------------------------------------------------------------------------------------------
// A small seeded generator
// ---------------------------------------------------------------------------------------------

function splitmix32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x9e3779b9) >>> 0;
    let z = a;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

const TWO32 = 4294967296;

/** Any source of uniform numbers in [0, 1): Xoshiro128 below, or augment.ts's Rng. */
export interface UniformSource {
  next(): number;
}

/**
 * xoshiro128** (Blackman & Vigna) seeded through splitmix32: the degradation pipeline's own small
 * seeded generator (parameter choices and noise). Same seed, same sequence, on every platform.
 */
export class Xoshiro128 implements UniformSource {
  #s = new Uint32Array(4);

  /** seed: a non-negative safe integer (all 53 bits are used). */
  constructor(seed: number) {
    if (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0)
      throw invalid('non-negative safe integer', 'seed', seed);
    const lo = splitmix32(seed >>> 0);
    const hi = splitmix32(Math.floor(seed / TWO32) ^ 0x5bd1e995);
    for (let i = 0; i < 4; i++) this.#s[i] = lo() ^ hi();
    if ((this.#s[0]! | this.#s[1]! | this.#s[2]! | this.#s[3]!) === 0) this.#s[0] = 1;
  }

  /** Next 32-bit unsigned integer. */
  uint32(): number {
    const s = this.#s;
    const r = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = s[1]! << 9;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return r;
  }
  /** Uniform in [0, 1) with 53 random bits. */
  next(): number {
    const a = this.uint32() >>> 5;
    const b = this.uint32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }
}

/** Uniform in [lo, hi). */
function uniform(rng: UniformSource, lo: number, hi: number): number {
  return lo + (hi - lo) * rng.next();
}
/** Uniform integer in [lo, hi] (both inclusive). */
function uniformInt(rng: UniformSource, lo: number, hi: number): number {
  return Math.min(hi, lo + Math.floor(rng.next() * (hi - lo + 1)));
}
/** true with probability p (no draw when p is 0 or 1). */
function bernoulli(rng: UniformSource, p: number): boolean {
  return p >= 1 ? true : p <= 0 ? false : rng.next() < p;
}
/** An index drawn with the given non-negative weights (one draw). */
function weighted(rng: UniformSource, weights: readonly number[]): number {
  const total = weights.reduce((a, b) => a + b, 0);
  let u = rng.next() * total;
  for (let i = 0; i < weights.length; i++) {
    u -= weights[i]!;
    if (u < 0) return i;
  }
  for (let i = weights.length - 1; i >= 0; i--) if (weights[i]! > 0) return i;
  return 0;
}

/** n standard normal samples (Box-Muller: two uniforms give two normals). */
export function sampleNormals(rng: UniformSource, n: number): Float64Array {
  const out = new Float64Array(n);
  for (let k = 0; k < n; k += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - rng.next())); // 1 - u in (0, 1]
    const a = 2 * Math.PI * rng.next();
    out[k] = r * Math.cos(a);
    if (k + 1 < n) out[k + 1] = r * Math.sin(a);
  }
  return out;
}

/** A Poisson(lam) sample: numpy's algorithms (multiplication for lam < 10, Hormann's PTRS above). */
export function samplePoisson(rng: UniformSource, lam: number): number {
  if (!(lam > 0)) return 0;
  if (lam >= 10) return poissonPtrs(rng, lam);
  const enlam = Math.exp(-lam);
  let x = 0;
  let prod = 1;
  for (;;) {
    prod *= rng.next();
    if (prod > enlam) x += 1;
    else return x;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** log Gamma(x) for x >= 1 (numpy's random_loggam: Stirling series with 10 terms). */
export function logGamma(x: number): number {
  const a = [
    8.333333333333333e-2, -2.777777777777778e-3, 7.936507936507937e-4, -5.952380952380952e-4,
    8.417508417508418e-4, -1.917526917526918e-3, 6.41025641025641e-3, -2.955065359477124e-2,
    1.796443723688307e-1, -1.3924322169059,
  ];
  if (x === 1 || x === 2) return 0;
  const n = x < 7 ? Math.floor(7 - x) : 0;
  let x0 = x + n;
  const x2 = (1 / x0) * (1 / x0);
  let gl0 = a[9]!;
  for (let k = 8; k >= 0; k--) gl0 = gl0 * x2 + a[k]!;
  let gl = gl0 / x0 + 0.5 * 1.8378770664093453 + (x0 - 0.5) * Math.log(x0) - x0;
  for (let k = 1; k <= n; k++) {
    gl -= Math.log(x0 - 1);
    x0 -= 1;
  }
  return gl;
}

function poissonPtrs(rng: UniformSource, lam: number): number {
  const slam = Math.sqrt(lam);
  const loglam = Math.log(lam);
  const b = 0.931 + 2.53 * slam;
  const a = -0.059 + 0.02483 * b;
  const invalpha = 1.1239 + 1.1328 / (b - 3.4);
  const vr = 0.9277 - 3.6224 / (b - 2);
  for (;;) {
    const u = rng.next() - 0.5;
    const v = rng.next();
    const us = 0.5 - Math.abs(u);
    const k = Math.floor(((2 * a) / us + b) * u + lam + 0.43);
    if (us >= 0.07 && v <= vr) return k;
    if (k < 0 || (us < 0.013 && v > us)) continue;
    if (Math.log(v) + Math.log(invalpha) - Math.log(a / (us * us) + b) <= -lam + k * loglam - logGamma(k + 1))
      return k;
  }
}

function toSource(r: UniformSource | number): UniformSource {
  return typeof r === 'number' ? new Xoshiro128(r) : r;
}

// ---------------------------------------------------------------------------------------------
// Down-sampling
// ---------------------------------------------------------------------------------------------

export const DOWN_MODES = ['bicubic', 'bilinear', 'area'] as const;
export type DownMode = (typeof DOWN_MODES)[number];

export interface ResizeOptions {
  /** Default 'bicubic'. */
  mode?: DownMode;
  /**
   * Low-pass the input as the kernel is stretched to the output's pixel size (PyTorch's
   * `antialias=True`: PIL-style separable filtering; bicubic then uses a = -0.5, as PIL and MATLAB's
   * imresize). Default TRUE for bicubic and bilinear: this is what "bicubic down-sampling" means for
   * making LR training and test data (MATLAB imresize / PIL, torchvision >= 0.17 resize); without it
   * a x4 bicubic reads only a 4x4 neighbourhood per output pixel (a = -0.75) and aliases. Ignored for
   * 'area', which averages each output pixel's footprint already (x4 area = SCGAN's avgpool 4).
   */
  antialias?: boolean;
}

function interpOpts(o: ResizeOptions): { mode: DownMode; antialias?: boolean; alignCorners?: boolean } {
  const mode = checkOneOf(o.mode ?? 'bicubic', 'mode', DOWN_MODES);
  if (mode === 'area') return { mode };
  return { mode, antialias: o.antialias ?? true, alignCorners: false };
}

/**
 * Resizes [N, C, H, W] to size ([h, w] or one number for both): exactly
 * `F.interpolate(x, size=size, mode=mode, align_corners=False, antialias=antialias)`.
 */
export function resize(x: Tensor, size: number | readonly [number, number], o: ResizeOptions = {}): Tensor {
  need4d(x, 'resize');
  const s = typeof size === 'number' ? [size, size] : [...size];
  s.forEach((v, i) => checkInt(v, `size[${i}]`, 1));
  return F.interpolate(x, { size: s as [number, number], ...interpOpts(o) });
}

/**
 * Down-samples [N, C, H, W] by an integer factor (2, 4, 8, ...) to floor(H / factor) x floor(W / factor).
 * Equal to `F.interpolate(x, size=(H // f, W // f), ...)` and, when f divides the size and is a power of
 * two (x2/x4/x8), bit-identical to `F.interpolate(x, scale_factor=1/f, ...)` (checked by the goldens).
 */
export function downsample(x: Tensor, factor: number, o: ResizeOptions = {}): Tensor {
  const [, , h, w] = need4d(x, 'downsample');
  checkInt(factor, 'factor', 1);
  if (h < factor || w < factor)
    throw new ArgumentError(`downsample: a ${h}x${w} image is smaller than the factor ${factor}`);
  return resize(x, [Math.floor(h / factor), Math.floor(w / factor)], o);
}

// ---------------------------------------------------------------------------------------------
// Blur kernels
// ---------------------------------------------------------------------------------------------

/** A square, odd-sized 2-d kernel summing to 1; weights row-major (rows = y, down the image). */
export interface BlurKernel {
  readonly size: number;
  readonly weights: Float32Array;
}

/** Largest default Gaussian kernel (BasicSR's kernel_size range ends at 21). */
export const MAX_GAUSSIAN_KERNEL = 21;

/** Default odd size of a Gaussian kernel: 2 * ceil(3 sigma) + 1 within [3, MAX_GAUSSIAN_KERNEL]. */
export function gaussianKernelSize(maxSigma: number): number {
  checkPositive(maxSigma, 'sigma');
  return Math.min(MAX_GAUSSIAN_KERNEL, Math.max(3, 2 * Math.ceil(3 * maxSigma) + 1));
}

/** Default odd size of a motion kernel: 2 * (floor(length / 2) + 1) + 1 (holds the whole footprint). */
export function motionKernelSize(length: number): number {
  checkPositive(length, 'length');
  return 2 * (Math.floor(length / 2) + 1) + 1;
}

function checkSize(size: number): number {
  checkInt(size, 'kernel size', 1);
  if (size % 2 !== 1) throw invalid('odd kernel size', 'kernel size', size);
  return size;
}

function normalise(k: Float64Array, size: number): BlurKernel {
  let sum = 0;
  for (const v of k) sum += v;
  const weights = new Float32Array(k.length);
  for (let i = 0; i < k.length; i++) weights[i] = k[i]! / sum;
  return { size, weights };
}

/**
 * exp(-0.5 v^T S^-1 v) on the grid v = (x, y) of offsets from the centre, normalised: BasicSR's
 * pdf2 + bivariate_Gaussian (basicsr/data/degradations.py), with the covariance given as S = [[a, b], [b, c]].
 */
function gaussianFromCov(size: number, a: number, b: number, c: number): BlurKernel {
  const det = a * c - b * b;
  const [i00, i01, i11] = [c / det, -b / det, a / det];
  const r = (size - 1) / 2;
  const k = new Float64Array(size * size);
  for (let i = 0; i < size; i++) {
    const y = i - r;
    for (let j = 0; j < size; j++) {
      const x = j - r;
      k[i * size + j] = Math.exp(-0.5 * ((x * i00 + y * i01) * x + (x * i01 + y * i11) * y));
    }
  }
  return normalise(k, size);
}

/** Isotropic Gaussian kernel: BasicSR bivariate_isotropic_Gaussian(size, sigma). */
export function isotropicGaussianKernel(sigma: number, size?: number): BlurKernel {
  checkPositive(sigma, 'sigma');
  const s = size === undefined ? gaussianKernelSize(sigma) : checkSize(size);
  return gaussianFromCov(s, sigma * sigma, 0, sigma * sigma);
}

/**
 * Anisotropic Gaussian kernel: BasicSR bivariate_anisotropic_Gaussian(size, sig_x, sig_y, theta), i.e.
 * covariance U diag(sigmaX^2, sigmaY^2) U^T with U the rotation by theta (radians). x runs along
 * columns and y down the rows, so a positive theta turns the x axis toward +y (clockwise on screen).
 * Rotating by pi/2 is the same as swapping the sigmas.
 */
export function anisotropicGaussianKernel(
  sigmaX: number,
  sigmaY: number,
  theta: number,
  size?: number,
): BlurKernel {
  checkPositive(sigmaX, 'sigmaX');
  checkPositive(sigmaY, 'sigmaY');
  checkNumber(theta, 'theta');
  const s = size === undefined ? gaussianKernelSize(Math.max(sigmaX, sigmaY)) : checkSize(size);
  const cs = Math.cos(theta);
  const sn = Math.sin(theta);
  const [vx, vy] = [sigmaX * sigmaX, sigmaY * sigmaY];
  return gaussianFromCov(s, cs * cs * vx + sn * sn * vy, cs * sn * (vx - vy), sn * sn * vx + cs * cs * vy);
}

/**
 * Linear motion blur: a segment of `length` pixels centred on the kernel, at `angle` radians (the same
 * convention as anisotropicGaussianKernel: 0 is horizontal, positive turns toward +y = down the image),
 * rasterised with anti-aliasing by integrating a bilinear (tent) footprint along it:
 *   k[i][j] ~ integral over t in [-L/2, L/2] of tent(t cos(angle) - j) * tent(t sin(angle) - i) dt,
 * (midpoint rule, 32 samples per pixel of length; exact for axis-aligned segments), normalised.
 * At angle 0 and odd integer length L the centre row reads [1/8, 7/8, 1, ..., 1, 7/8, 1/8] / L.
 * BasicSR has no motion kernel; dev/make_degrade_fixtures.py holds the numpy reference of this formula.
 */
export function motionBlurKernel(length: number, angle: number, size?: number): BlurKernel {
  checkPositive(length, 'length');
  checkNumber(angle, 'angle');
  const s = size === undefined ? motionKernelSize(length) : checkSize(size);
  let c = Math.cos(angle);
  let sn = Math.sin(angle);
  if (Math.abs(c) < 1e-12) c = 0;
  if (Math.abs(sn) < 1e-12) sn = 0;
  const n = Math.max(16, Math.ceil(length * 32));
  const r = (s - 1) / 2;
  const k = new Float64Array(s * s);
  const wx = new Float64Array(s);
  const wy = new Float64Array(s);
  for (let m = 0; m < n; m++) {
    const t = ((m + 0.5) / n) * length - length / 2;
    const [px, py] = [t * c, t * sn];
    for (let j = 0; j < s; j++) {
      wx[j] = Math.max(0, 1 - Math.abs(px - (j - r)));
      wy[j] = Math.max(0, 1 - Math.abs(py - (j - r)));
    }
    for (let i = 0; i < s; i++) {
      const a = wy[i]!;
      if (a === 0) continue;
      for (let j = 0; j < s; j++) k[i * s + j]! += a * wx[j]!;
    }
  }
  return normalise(k, s);
}

/** The identity kernel (a 1 in the centre). */
export function deltaKernel(size = 1): BlurKernel {
  const s = checkSize(size);
  const weights = new Float32Array(s * s);
  weights[(s * s - 1) / 2] = 1;
  return { size: s, weights };
}

/** Parameters of one blur kernel, as the pipeline records them (angles in radians, sizes odd). */
export type BlurSpec =
  | { type: 'iso'; sigma: number; size: number }
  | { type: 'aniso'; sigmaX: number; sigmaY: number; theta: number; size: number }
  | { type: 'motion'; length: number; angle: number; size: number };

export function kernelFromSpec(spec: BlurSpec): BlurKernel {
  switch (spec.type) {
    case 'iso':
      return isotropicGaussianKernel(spec.sigma, spec.size);
    case 'aniso':
      return anisotropicGaussianKernel(spec.sigmaX, spec.sigmaY, spec.theta, spec.size);
    case 'motion':
      return motionBlurKernel(spec.length, spec.angle, spec.size);
    default:
      throw invalid("blur spec of type 'iso', 'aniso' or 'motion'", 'blur', spec);
  }
}

/** A kernel as a [size, size] float32 tensor. */
export function kernelTensor(k: BlurKernel): Tensor {
  return fromTypedArray(k.weights, [k.size, k.size]);
}

/** Embeds a kernel in a larger odd size (zeros around it; the result of a blur does not change). */
function padKernel(k: BlurKernel, size: number): Float32Array {
  if (k.size === size) return k.weights;
  const out = new Float32Array(size * size);
  const off = (size - k.size) / 2;
  for (let i = 0; i < k.size; i++)
    out.set(k.weights.subarray(i * k.size, (i + 1) * k.size), (i + off) * size + off);
  return out;
}

/**
 * Blurs each channel of [N, C, H, W] with a kernel, as BasicSR's filter2D
 * (basicsr/utils/img_process_util.py): reflect padding of size // 2, then a depthwise conv2d
 * (cross-correlation: the kernel is not flipped). One kernel for the whole batch, or one per image
 * (kernels of different sizes are centred in the largest). Padding needs size // 2 < H and < W.
 */
export function blur(x: Tensor, kernel: BlurKernel | readonly BlurKernel[]): Tensor {
  const [n, c, h, w] = need4d(x, 'blur');
  const ks: readonly BlurKernel[] = Array.isArray(kernel) ? kernel : [kernel as BlurKernel];
  if (ks.length !== 1 && ks.length !== n)
    throw new ArgumentError(`blur: ${ks.length} kernels for a batch of ${n} (give 1 or ${n})`);
  const size = Math.max(...ks.map((k) => checkSize(k.size)));
  ks.forEach((k, i) => {
    if (k.weights.length !== k.size * k.size)
      throw new ArgumentError(`blur: kernel ${i} has ${k.weights.length} weights for size ${k.size}`);
  });
  const p = (size - 1) / 2;
  if (p >= h || p >= w)
    throw new ArgumentError(
      `blur: a ${size}x${size} kernel needs reflect padding ${p}, which must be smaller than the image (${h}x${w})`,
    );
  return tidy(() => {
    const flat = new Float32Array(ks.length * size * size);
    ks.forEach((k, i) => flat.set(padKernel(k, size), i * size * size));
    const weight = fromTypedArray(flat, [ks.length, 1, size, size]).to({ dtype: x.dtype, device: x.device });
    const padded = F.pad(x, [p, p, p, p], 'reflect');
    const [ph, pw] = [h + 2 * p, w + 2 * p];
    if (ks.length === 1) return F.conv2d(padded.reshape(n * c, 1, ph, pw), weight).reshape(n, c, h, w);
    const wk = weight.repeat(1, c, 1, 1).reshape(n * c, 1, size, size);
    return F.conv2d(padded.reshape(1, n * c, ph, pw), wk, null, { groups: n * c }).reshape(n, c, h, w);
  });
}

// ---------------------------------------------------------------------------------------------
// Noise (images in [0, 1])
// ---------------------------------------------------------------------------------------------

export interface NoiseOptions {
  /** One noise field shared by all channels (BasicSR's gray_noise). Default false. */
  gray?: boolean;
  /** Clip the result to [0, 1] (default true, as BasicSR). */
  clip?: boolean;
  /**
   * Draw from this JS generator (a new Xoshiro128 when a seed is given) instead of libtorch's global
   * generator. The images are then done in order, each as addGaussianNoiseTo / addPoissonNoiseTo does.
   */
  rng?: UniformSource | number;
}

function perImage(v: number | readonly number[], n: number, name: string, min = 0): number[] {
  const arr = typeof v === 'number' ? new Array<number>(n).fill(v) : [...v];
  if (arr.length !== n) throw new ArgumentError(`${name}: ${arr.length} values for a batch of ${n}`);
  arr.forEach((s, i) => {
    if (typeof s !== 'number' || !Number.isFinite(s) || s < min)
      throw invalid(`number >= ${min}`, `${name}[${i}]`, s);
  });
  return arr;
}

/**
 * Adds Gaussian noise of standard deviation sigma/255 (sigma in 0-255 units; one number, or one per
 * image) to [N, C, H, W] images in [0, 1]: BasicSR add_gaussian_noise(_pt) (rounds=False).
 */
export function addGaussianNoise(x: Tensor, sigma: number | readonly number[], o: NoiseOptions = {}): Tensor {
  const [n, c, h, w] = need4d(x, 'addGaussianNoise');
  const sig = perImage(sigma, n, 'sigma');
  const clip = o.clip ?? true;
  const gray = o.gray ?? false;
  if (o.rng !== undefined) {
    const rng = toSource(o.rng);
    const data = hostFloat32(x);
    const per = c * h * w;
    for (let i = 0; i < n; i++)
      addGaussianNoiseTo(data.subarray(i * per, (i + 1) * per), c, sig[i]!, rng, gray, clip);
    return fromHost(data, [n, c, h, w], x);
  }
  return tidy(() => {
    const noise = randn([n, gray ? 1 : c, h, w], { dtype: x.dtype, device: x.device });
    const scale = fromTypedArray(
      Float32Array.from(sig, (s) => s / 255),
      [n, 1, 1, 1],
    ).to({
      dtype: x.dtype,
      device: x.device,
    });
    const out = x.add(noise.mul(scale));
    return clip ? out.clamp(0, 1) : out;
  });
}

/**
 * Adds Gaussian noise to one image in place: img holds C planes of H*W values in [0, 1]. sigma in
 * 0-255 units; gray: one field for all channels. Draws sampleNormals(rng, values (or pixels if gray)).
 */
export function addGaussianNoiseTo(
  img: Float32Array,
  channels: number,
  sigma: number,
  rng: UniformSource,
  gray = false,
  clip = true,
): void {
  const hw = img.length / channels;
  const s = sigma / 255;
  const z = sampleNormals(rng, gray ? hw : img.length);
  for (let k = 0; k < img.length; k++) img[k] = finish(img[k]! + z[gray ? k % hw : k]! * s, clip);
}

function finish(v: number, clip: boolean): number {
  return clip ? (v < 0 ? 0 : v > 1 ? 1 : v) : v;
}

/** ITU-R BT.601 luma weights (cv2 RGB2GRAY, torchvision rgb_to_grayscale), used for gray Poisson noise. */
const LUMA = [0.299, 0.587, 0.114] as const;

/** BasicSR's number of Poisson levels: 2^ceil(log2(distinct 8-bit values)). */
function poissonLevels(q: Float64Array): number {
  const seen = new Uint8Array(256);
  let distinct = 0;
  for (const v of q) {
    const b = Math.round(v * 255);
    if (!seen[b]) {
      seen[b] = 1;
      distinct++;
    }
  }
  return 2 ** Math.ceil(Math.log2(distinct));
}

/** Rounds to 8 bits and back (BasicSR: clip((img * 255).round(), 0, 255) / 255). */
function quantise01(v: number): number {
  const b = Math.round(v * 255);
  return (b < 0 ? 0 : b > 255 ? 255 : b) / 255;
}

/**
 * Adds Poisson (shot) noise to [N, C, H, W] images in [0, 1]: BasicSR generate_poisson_noise(_pt):
 * the image is rounded to 8 bits, vals = 2^ceil(log2(number of distinct levels)) (per image),
 * noise = (Poisson(img * vals) / vals - img) * scale is added to the input. gray: the noise is drawn on
 * the luma (BT.601) and shared by the channels. scale: one number or one per image (0 = identity).
 * Without an rng the samples come from Tensor.poisson() on the global generator.
 */
export function addPoissonNoise(x: Tensor, scale: number | readonly number[], o: NoiseOptions = {}): Tensor {
  const [n, c, h, w] = need4d(x, 'addPoissonNoise');
  const sc = perImage(scale, n, 'scale');
  const clip = o.clip ?? true;
  const gray = (o.gray ?? false) && c === 3;
  if (o.gray && c !== 3) throw new ArgumentError(`addPoissonNoise: gray noise needs 3 channels, not ${c}`);
  const data = hostFloat32(x);
  const per = c * h * w;
  if (o.rng !== undefined) {
    const rng = toSource(o.rng);
    for (let i = 0; i < n; i++)
      addPoissonNoiseTo(data.subarray(i * per, (i + 1) * per), c, sc[i]!, rng, gray, clip);
    return fromHost(data, [n, c, h, w], x);
  }
  // Global generator: quantise (and take the luma) in JS, sample with Tensor.poisson(), finish in JS.
  const hw = h * w;
  const planes = gray ? 1 : c;
  const rates = new Float32Array(n * planes * hw);
  const bases: Float64Array[] = [];
  const vals: number[] = [];
  for (let i = 0; i < n; i++) {
    const q = poissonBase(data.subarray(i * per, (i + 1) * per), c, gray);
    const v = poissonLevels(q);
    bases.push(q);
    vals.push(v);
    for (let k = 0; k < q.length; k++) rates[i * planes * hw + k] = q[k]! * v;
  }
  const counts = tidy(() => fromTypedArray(rates, [rates.length]).poisson().toFloat32Array());
  for (let i = 0; i < n; i++) {
    const q = bases[i]!;
    const noise = new Float64Array(q.length);
    for (let k = 0; k < q.length; k++) noise[k] = (counts[i * planes * hw + k]! / vals[i]! - q[k]!) * sc[i]!;
    applyNoise(data.subarray(i * per, (i + 1) * per), c, noise, gray, clip);
  }
  return fromHost(data, [n, c, h, w], x);
}

/** The quantised image (C planes) or its quantised luma (1 plane) that Poisson noise is drawn on. */
function poissonBase(img: Float32Array, channels: number, gray: boolean): Float64Array {
  const hw = img.length / channels;
  if (!gray) return Float64Array.from(img, quantise01);
  const q = new Float64Array(hw);
  for (let p = 0; p < hw; p++)
    q[p] = quantise01(LUMA[0] * img[p]! + LUMA[1] * img[hw + p]! + LUMA[2] * img[2 * hw + p]!);
  return q;
}

function applyNoise(
  img: Float32Array,
  channels: number,
  noise: Float64Array,
  gray: boolean,
  clip: boolean,
): void {
  const hw = img.length / channels;
  for (let ch = 0; ch < channels; ch++)
    for (let p = 0; p < hw; p++) {
      const k = ch * hw + p;
      img[k] = finish(img[k]! + noise[gray ? p : k]!, clip);
    }
}

/** Adds Poisson noise to one image (C planes of H*W values in [0, 1]) in place, drawing from rng. */
export function addPoissonNoiseTo(
  img: Float32Array,
  channels: number,
  scale: number,
  rng: UniformSource,
  gray = false,
  clip = true,
): void {
  if (gray && channels !== 3) throw new ArgumentError(`Poisson gray noise needs 3 channels, not ${channels}`);
  const q = poissonBase(img, channels, gray);
  const vals = poissonLevels(q);
  const noise = new Float64Array(q.length);
  for (let k = 0; k < q.length; k++) noise[k] = (samplePoisson(rng, q[k]! * vals) / vals - q[k]!) * scale;
  applyNoise(img, channels, noise, gray, clip);
}

// ---------------------------------------------------------------------------------------------
// JPEG (images in [0, 1])
// ---------------------------------------------------------------------------------------------

export type ChromaSubsampling = '4:2:0' | '4:4:4';

export interface JpegOptions {
  /**
   * '4:2:0' (default: what cameras, phones and the web mostly write, and what cv2.imencode and
   * Real-ESRGAN's DiffJPEG do) or '4:4:4'.
   */
  chromaSubsampling?: ChromaSubsampling;
  /** For a quality range: draw from this generator (or seed); otherwise from the global generator. */
  rng?: UniformSource | number;
}

/** [0, 1] float to 8 bits (round half up, clamped; NaN -> 0). */
function toByte(v: number): number {
  const b = Math.round(v * 255);
  return b > 0 ? (b < 255 ? b : 255) : 0;
}

/**
 * JPEG-compresses 8-bit interleaved pixels (1 or 3 channels) at a quality 1-100 with sharp
 * (libjpeg-turbo) and decodes them again; returns pixels of the same layout.
 */
export async function jpegRoundTrip(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: 1 | 3,
  quality: number,
  chromaSubsampling: ChromaSubsampling = '4:2:0',
): Promise<Uint8Array> {
  checkInt(quality, 'quality', 1);
  if (quality > 100) throw invalid('integer quality in 1-100', 'quality', quality);
  let enc = sharp(pixels, { raw: { width, height, channels } });
  if (channels === 1) enc = enc.toColourspace('b-w'); // a one-component (grayscale) JPEG
  const jpg = await enc.jpeg({ quality, chromaSubsampling }).toBuffer();
  let dec = sharp(jpg);
  if (channels === 1) dec = dec.toColourspace('b-w');
  const out = await dec.raw().toBuffer({ resolveWithObject: true });
  if (out.info.channels !== channels || out.info.width !== width || out.info.height !== height)
    throw new ArgumentError(
      `jpeg: decoded ${out.info.width}x${out.info.height}x${out.info.channels}, expected ${width}x${height}x${channels}`,
    );
  return new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.byteLength);
}

/** One image in place: C planes of H*W values in [0, 1] -> 8 bits -> JPEG -> back to [0, 1]. */
export async function jpegImageTo(
  img: Float32Array,
  channels: 1 | 3,
  height: number,
  width: number,
  quality: number,
  chromaSubsampling: ChromaSubsampling = '4:2:0',
): Promise<void> {
  const hw = height * width;
  const px = new Uint8Array(hw * channels);
  for (let ch = 0; ch < channels; ch++)
    for (let p = 0; p < hw; p++) px[p * channels + ch] = toByte(img[ch * hw + p]!);
  const dec = await jpegRoundTrip(px, width, height, channels, quality, chromaSubsampling);
  for (let ch = 0; ch < channels; ch++)
    for (let p = 0; p < hw; p++) img[ch * hw + p] = dec[p * channels + ch]! / 255;
}

/**
 * JPEG compression artefacts on [N, C, H, W] images in [0, 1] (C = 1 or 3): each image is rounded to
 * 8 bits, encoded at its quality with sharp and decoded (the images run in parallel on libuv's pool).
 * quality: one integer 1-100, one per image, or {min, max} for a uniform integer per image (from
 * o.rng, else the global generator). Returns a new float32 tensor on x's device.
 */
export async function jpegCompress(
  x: Tensor,
  quality: number | readonly number[] | { min: number; max: number },
  o: JpegOptions = {},
): Promise<Tensor> {
  const [n, c, h, w] = need4d(x, 'jpegCompress');
  if (c !== 1 && c !== 3) throw new ArgumentError(`jpegCompress: images need 1 or 3 channels, not ${c}`);
  let qs: number[];
  if (typeof quality === 'object' && !Array.isArray(quality)) {
    const { min, max } = quality as { min: number; max: number };
    checkInt(min, 'quality.min', 1);
    checkInt(max, 'quality.max', min);
    if (max > 100) throw invalid('integer quality in 1-100', 'quality.max', max);
    if (o.rng !== undefined) {
      const rng = toSource(o.rng);
      qs = Array.from({ length: n }, () => uniformInt(rng, min, max));
    } else {
      qs = Array.from(tidy(() => randint(min, max + 1, [n], { dtype: 'int32' }).data() as Int32Array));
    }
  } else {
    qs = perImage(quality as number | readonly number[], n, 'quality', 1);
  }
  qs.forEach((q, i) => {
    checkInt(q, `quality[${i}]`, 1);
    if (q > 100) throw invalid('integer quality in 1-100', `quality[${i}]`, q);
  });
  const data = hostFloat32(x);
  const per = c * h * w;
  await Promise.all(
    qs.map((q, i) => jpegImageTo(data.subarray(i * per, (i + 1) * per), c, h, w, q, o.chromaSubsampling)),
  );
  return fromHost(data, [n, c, h, w], x, 'float32');
}

// ---------------------------------------------------------------------------------------------
// The seeded random pipeline
// ---------------------------------------------------------------------------------------------

/** A uniform range [lo, hi] (lo == hi for a constant). */
export type Span = readonly [number, number];

export interface BlurStage {
  /** Probability that an image is blurred at all. */
  prob: number;
  /** Kernel families with their relative weights. */
  iso?: { weight: number; sigma: Span };
  aniso?: { weight: number; sigmaX: Span; sigmaY: Span; theta: Span };
  motion?: { weight: number; length: Span; angle: Span };
}

export interface DownStage {
  /** Integer factor: HR H x W -> LR H/scale x W/scale (must divide). */
  scale: number;
  /** Modes, drawn uniformly per image. */
  modes: readonly DownMode[];
  /** antialias for bicubic/bilinear (see ResizeOptions). */
  antialias: boolean;
}

export interface NoiseStage {
  prob: number;
  gaussian?: { weight: number; sigma: Span; grayProb: number };
  poisson?: { weight: number; scale: Span; grayProb: number };
}

export interface JpegStage {
  prob: number;
  /** Integer qualities, uniform over [lo, hi] inclusive. */
  quality: Span;
  chromaSubsampling: ChromaSubsampling;
}

/** A degradation: blur (HR) -> down-sample -> noise -> JPEG -> clamp. Stages may be null. */
export interface DegradationConfig {
  name: string;
  blur: BlurStage | null;
  down: DownStage;
  noise: NoiseStage | null;
  jpeg: JpegStage | null;
  /** Clamp the LR result to the image range. */
  clamp: boolean;
}

/**
 * Presets.
 * - bicubic4: x4 bicubic with antialias (MATLAB/PIL-style "bicubic" LR), clamped: the default plain
 *   down-sampling for LR training and test data (method.md section 5 (a)).
 * - area4: x4 area (= SCGAN's avgpool 4, its LR-making op), clamped.
 * - realistic: method.md section 5 (b), "blur kernel + noise + JPEG", applied as
 *   y = JPEG_q(clip((x * k) down_4 + n)), the classic order of Real-ESRGAN's first degradation stage
 *   (BasicSR), with its ranges where they fit 16x16/32x32 faces. Blur sizes are in HR pixels, noise in
 *   0-255 units, angles in radians.
 *     blur (always): iso Gaussian, weight 0.5, sigma U(0.2, 3.0) (Real-ESRGAN's range);
 *                    aniso Gaussian, 0.35, sigmaX and sigmaY U(0.2, 3.0), theta U(-pi, pi);
 *                    motion, 0.15, length U(2, 10) px, angle U(0, pi) (a centred line: angle and
 *                    angle + pi are the same kernel).
 *     down-sampling: x4, bicubic, bilinear or area with equal odds, antialias off (Real-ESRGAN's
 *                    random resize modes: the blur kernel is the low-pass, the rest aliases like a
 *                    cheap sensor).
 *     noise (always): Gaussian, weight 0.5, sigma U(0, 15), one gray field with p 0.4; or Poisson,
 *                    0.5, scale U(0.05, 1.5), gray with p 0.4 (half of Real-ESRGAN's 1-30 and 0.05-3:
 *                    at 16x16 a face has too few pixels to survive more; Poisson scale 1.5 at mid-grey
 *                    is about sigma 17).
 *     JPEG (always): integer quality U{30..95} (Real-ESRGAN's range), 4:2:0 chroma.
 *     The result is clamped to the image range.
 */
export const DEGRADATION_PRESETS = {
  bicubic4: {
    name: 'bicubic4',
    blur: null,
    down: { scale: 4, modes: ['bicubic'], antialias: true },
    noise: null,
    jpeg: null,
    clamp: true,
  },
  area4: {
    name: 'area4',
    blur: null,
    down: { scale: 4, modes: ['area'], antialias: false },
    noise: null,
    jpeg: null,
    clamp: true,
  },
  realistic: {
    name: 'realistic',
    blur: {
      prob: 1,
      iso: { weight: 0.5, sigma: [0.2, 3.0] },
      aniso: { weight: 0.35, sigmaX: [0.2, 3.0], sigmaY: [0.2, 3.0], theta: [-Math.PI, Math.PI] },
      motion: { weight: 0.15, length: [2, 10], angle: [0, Math.PI] },
    },
    down: { scale: 4, modes: ['bicubic', 'bilinear', 'area'], antialias: false },
    noise: {
      prob: 1,
      gaussian: { weight: 0.5, sigma: [0, 15], grayProb: 0.4 },
      poisson: { weight: 0.5, scale: [0.05, 1.5], grayProb: 0.4 },
    },
    jpeg: { prob: 1, quality: [30, 95], chromaSubsampling: '4:2:0' },
    clamp: true,
  },
} as const satisfies Record<string, DegradationConfig>;

export type DegradationPreset = keyof typeof DEGRADATION_PRESETS;

export type NoiseSpec =
  { type: 'gaussian'; sigma: number; gray: boolean } | { type: 'poisson'; scale: number; gray: boolean };

/** Everything that was done to one image (JSON-serialisable); applyDegradation replays it exactly. */
export interface DegradationRecord {
  preset: string;
  /** Seed of the image's own noise generator. */
  seed: number;
  hrSize: [number, number];
  blur: BlurSpec | null;
  down: { mode: DownMode; antialias: boolean; size: [number, number] };
  noise: NoiseSpec | null;
  jpeg: { quality: number; chromaSubsampling: ChromaSubsampling } | null;
  clamp: boolean;
}

export type ImageRange = '-1,1' | '0,1';

function span(rng: UniformSource, s: Span): number {
  return s[0] === s[1] ? s[0] : uniform(rng, s[0], s[1]);
}

function checkSpan(s: unknown, name: string, min = -Infinity): void {
  if (
    !Array.isArray(s) ||
    s.length !== 2 ||
    !s.every((v) => typeof v === 'number' && Number.isFinite(v)) ||
    s[0] > s[1] ||
    s[0] < min
  )
    throw invalid(`[lo, hi] with ${min === -Infinity ? '' : `${min} <= `}lo <= hi`, name, s);
}

function checkProb(p: unknown, name: string): void {
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw invalid('probability in [0, 1]', name, p);
}

/** Validates a config; throws ArgumentError naming the bad field. */
export function checkDegradationConfig(c: DegradationConfig): DegradationConfig {
  if (typeof c !== 'object' || c === null) throw invalid('degradation config object', 'config', c);
  checkInt(c.down?.scale, 'down.scale', 1);
  if (!Array.isArray(c.down.modes) || c.down.modes.length === 0)
    throw invalid('non-empty list of modes', 'down.modes', c.down.modes);
  c.down.modes.forEach((m, i) => checkOneOf(m, `down.modes[${i}]`, DOWN_MODES));
  if (c.blur) {
    checkProb(c.blur.prob, 'blur.prob');
    const { iso, aniso, motion } = c.blur;
    if (!iso && !aniso && !motion) throw new ArgumentError('blur: give at least one of iso, aniso, motion');
    if (iso) checkSpan(iso.sigma, 'blur.iso.sigma', 1e-6);
    if (aniso) {
      checkSpan(aniso.sigmaX, 'blur.aniso.sigmaX', 1e-6);
      checkSpan(aniso.sigmaY, 'blur.aniso.sigmaY', 1e-6);
      checkSpan(aniso.theta, 'blur.aniso.theta');
    }
    if (motion) {
      checkSpan(motion.length, 'blur.motion.length', 1e-6);
      checkSpan(motion.angle, 'blur.motion.angle');
    }
  }
  if (c.noise) {
    checkProb(c.noise.prob, 'noise.prob');
    if (!c.noise.gaussian && !c.noise.poisson)
      throw new ArgumentError('noise: give gaussian, poisson or both');
    if (c.noise.gaussian) {
      checkSpan(c.noise.gaussian.sigma, 'noise.gaussian.sigma', 0);
      checkProb(c.noise.gaussian.grayProb, 'noise.gaussian.grayProb');
    }
    if (c.noise.poisson) {
      checkSpan(c.noise.poisson.scale, 'noise.poisson.scale', 0);
      checkProb(c.noise.poisson.grayProb, 'noise.poisson.grayProb');
    }
  }
  if (c.jpeg) {
    checkProb(c.jpeg.prob, 'jpeg.prob');
    checkSpan(c.jpeg.quality, 'jpeg.quality', 1);
    if (c.jpeg.quality.some((q) => !Number.isInteger(q) || q > 100))
      throw invalid('integer qualities in 1-100', 'jpeg.quality', c.jpeg.quality);
    checkOneOf(c.jpeg.chromaSubsampling, 'jpeg.chromaSubsampling', ['4:2:0', '4:4:4'] as const);
  }
  return c;
}

/**
 * Draws one image's parameters. The draws, in order: the image's noise seed, then blur (prob, family,
 * its parameters), down-sampling mode, noise (prob, family, level, gray), JPEG (prob, quality).
 */
export function sampleDegradation(
  config: DegradationConfig,
  rng: Xoshiro128,
  hrSize: readonly [number, number],
): DegradationRecord {
  const [h, w] = hrSize;
  const scale = config.down.scale;
  if (h % scale !== 0 || w % scale !== 0)
    throw new ArgumentError(`degradation '${config.name}': HR size ${h}x${w} is not divisible by x${scale}`);
  const seed = rng.uint32();
  let blurSpec: BlurSpec | null = null;
  const b = config.blur;
  if (b && bernoulli(rng, b.prob)) {
    const fam = weighted(rng, [b.iso?.weight ?? 0, b.aniso?.weight ?? 0, b.motion?.weight ?? 0]);
    if (fam === 0) {
      const sigma = span(rng, b.iso!.sigma);
      blurSpec = { type: 'iso', sigma, size: gaussianKernelSize(sigma) };
    } else if (fam === 1) {
      const a = b.aniso!;
      const sigmaX = span(rng, a.sigmaX);
      const sigmaY = span(rng, a.sigmaY);
      const theta = span(rng, a.theta);
      blurSpec = { type: 'aniso', sigmaX, sigmaY, theta, size: gaussianKernelSize(Math.max(sigmaX, sigmaY)) };
    } else {
      const length = span(rng, b.motion!.length);
      const angle = span(rng, b.motion!.angle);
      blurSpec = { type: 'motion', length, angle, size: motionKernelSize(length) };
    }
  }
  const modes = config.down.modes;
  const mode = modes.length === 1 ? modes[0]! : modes[uniformInt(rng, 0, modes.length - 1)]!;
  let noise: NoiseSpec | null = null;
  const nz = config.noise;
  if (nz && bernoulli(rng, nz.prob)) {
    const fam = weighted(rng, [nz.gaussian?.weight ?? 0, nz.poisson?.weight ?? 0]);
    if (fam === 0) {
      const g = nz.gaussian!;
      noise = { type: 'gaussian', sigma: span(rng, g.sigma), gray: bernoulli(rng, g.grayProb) };
    } else {
      const p = nz.poisson!;
      noise = { type: 'poisson', scale: span(rng, p.scale), gray: bernoulli(rng, p.grayProb) };
    }
  }
  let jpeg: DegradationRecord['jpeg'] = null;
  const j = config.jpeg;
  if (j && bernoulli(rng, j.prob))
    jpeg = { quality: uniformInt(rng, j.quality[0], j.quality[1]), chromaSubsampling: j.chromaSubsampling };
  return {
    preset: config.name,
    seed,
    hrSize: [h, w],
    blur: blurSpec,
    down: { mode, antialias: mode !== 'area' && config.down.antialias, size: [h / scale, w / scale] },
    noise,
    jpeg,
    clamp: config.clamp,
  };
}

/**
 * Applies recorded degradations to a batch [N, C, H, W] (one record per image) in the given range.
 * Deterministic: the same records and input give the same output bit for bit, whatever the batch
 * around an image (each image is blurred and resized on its own) and whatever the global generator.
 * Blur and resize run on x's device; noise and JPEG on the CPU. Returns a new tensor of x's dtype.
 */
export async function applyDegradation(
  x: Tensor,
  records: readonly DegradationRecord[],
  o: { range?: ImageRange } = {},
): Promise<Tensor> {
  const [n, c, h, w] = need4d(x, 'applyDegradation');
  if (records.length !== n)
    throw new ArgumentError(`applyDegradation: ${records.length} records for ${n} images`);
  const range = checkOneOf(o.range ?? '-1,1', 'range', ['-1,1', '0,1'] as const);
  records.forEach((r, i) => {
    if (r.hrSize[0] !== h || r.hrSize[1] !== w)
      throw new ShapeError(
        `applyDegradation: record ${i} is for a ${r.hrSize[0]}x${r.hrSize[1]} image, received ${h}x${w}`,
      );
  });
  const [lh, lw] = records[0]!.down.size;
  records.forEach((r, i) => {
    if (r.down.size[0] !== lh || r.down.size[1] !== lw)
      throw new ArgumentError(
        `applyDegradation: record ${i} resizes to ${r.down.size.join('x')} but record 0 to ${lh}x${lw}`,
      );
  });
  const [lo, hi] = range === '-1,1' ? [-1, 1] : [0, 1];
  const small = tidy(() =>
    noGrad(() => {
      const src = x.detach();
      const outs = records.map((r, i) => {
        let img = src.narrow(0, i, 1);
        if (r.blur) img = blur(img, kernelFromSpec(r.blur));
        return resize(img, r.down.size, { mode: r.down.mode, antialias: r.down.antialias });
      });
      return outs.length === 1 ? outs[0]! : cat(outs, 0);
    }),
  );
  const needsCpu = records.some((r) => r.noise || r.jpeg);
  if (!needsCpu) {
    if (!records.some((r) => r.clamp)) return small;
    if (records.every((r) => r.clamp)) {
      const out = small.clamp(lo, hi);
      small.dispose();
      return out;
    }
  }
  const data = hostFloat32(small);
  small.dispose();
  const per = c * lh * lw;
  await Promise.all(
    records.map(async (r, i) => {
      const img = data.subarray(i * per, (i + 1) * per);
      const to01 = range === '-1,1' && (r.noise || r.jpeg);
      if (to01) for (let k = 0; k < img.length; k++) img[k] = (img[k]! + 1) / 2;
      if (r.noise) {
        const rng = new Xoshiro128(r.seed);
        if (r.noise.type === 'gaussian') addGaussianNoiseTo(img, c, r.noise.sigma, rng, r.noise.gray, true);
        else addPoissonNoiseTo(img, c, r.noise.scale, rng, r.noise.gray && c === 3, true);
      }
      if (r.jpeg) {
        if (c !== 1 && c !== 3)
          throw new ArgumentError(`applyDegradation: JPEG needs 1 or 3 channels, not ${c}`);
        await jpegImageTo(img, c, lh, lw, r.jpeg.quality, r.jpeg.chromaSubsampling);
      }
      if (to01) for (let k = 0; k < img.length; k++) img[k] = img[k]! * 2 - 1;
      if (r.clamp)
        for (let k = 0; k < img.length; k++) img[k] = img[k]! < lo ? lo : img[k]! > hi ? hi : img[k]!;
    }),
  );
  return fromHost(data, [n, c, lh, lw], x);
}

export interface DegradationResult {
  /** [N, C, H/scale, W/scale], same range, dtype and device as the input. */
  lr: Tensor;
  /** One record per image. */
  records: DegradationRecord[];
}

/** A seeded degradation: each call draws per-image parameters from its generator, then applies them. */
export interface Degradation {
  readonly config: DegradationConfig;
  readonly seed: number;
  readonly range: ImageRange;
  /** Draws the parameters of the next n images of size hrSize (advances the generator). */
  sample(n: number, hrSize: readonly [number, number]): DegradationRecord[];
  /** Degrades an HR batch [N, C, H, W] (or one image [C, H, W], returned as [1, ...]). */
  degrade(hr: Tensor): Promise<DegradationResult>;
}

/**
 * A seeded degradation pipeline from a preset name or a config. Same seed and same sequence of inputs
 * -> identical LR and records (independent of manualSeed and of libtorch's global generator, which it
 * never uses). range: of inputs and outputs, '-1,1' (default) or '0,1'.
 *
 *     const deg = makeDegradation('realistic', { seed: 7 });
 *     const { lr, records } = await deg.degrade(hr);   // hr [N, 3, 64, 64] -> lr [N, 3, 16, 16]
 */
export function makeDegradation(
  config: DegradationPreset | DegradationConfig,
  o: { seed?: number; range?: ImageRange } = {},
): Degradation {
  let cfg: DegradationConfig;
  if (typeof config === 'string') {
    const name = checkOneOf(config, 'preset', Object.keys(DEGRADATION_PRESETS) as DegradationPreset[]);
    cfg = DEGRADATION_PRESETS[name] as DegradationConfig;
  } else {
    cfg = checkDegradationConfig(config);
  }
  const seed = o.seed ?? 0;
  const rng = new Xoshiro128(seed);
  const range = checkOneOf(o.range ?? '-1,1', 'range', ['-1,1', '0,1'] as const);
  const sample = (n: number, hrSize: readonly [number, number]) => {
    checkInt(n, 'n', 0);
    return Array.from({ length: n }, () => sampleDegradation(cfg, rng, hrSize));
  };
  return {
    config: cfg,
    seed,
    range,
    sample,
    async degrade(hr: Tensor): Promise<DegradationResult> {
      const x = hr.ndim === 3 ? hr.unsqueeze(0) : hr;
      try {
        const [n, , h, w] = need4d(x, 'degrade');
        const records = sample(n, [h, w]);
        return { lr: await applyDegradation(x, records, { range }), records };
      } finally {
        if (x !== hr) x.dispose();
      }
    },
  };
}
