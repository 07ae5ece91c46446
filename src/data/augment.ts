// Augmentation of float32 planar (CHW) images and 68-point landmarks in plain JavaScript, so that it
// runs in loader worker threads, which must not load the libtorch addon (nothing here imports the
// tensor layer). The affine warp reproduces F.affineGrid + F.gridSample (bilinear, border padding,
// alignCorners false) on the same matrix; augment_tensor.ts runs that on tensors, and a test holds
// the two together. All randomness comes from a seeded Rng passed in: never Math.random.
import { ArgumentError } from '../core/errors.js';
import { checkInt } from '../core/check.js';

/** Float32 pixels, planar CHW (the memory layout of one [C, H, W] slice of an NCHW tensor). */
export interface PlanarImage {
  data: Float32Array;
  width: number;
  height: number;
  channels: number;
}

/**
 * Landmarks are interleaved x, y pairs in continuous pixel coordinates, the convention of faces.ts
 * and of alignCorners-false resampling: pixel (row i, column j) covers [j, j+1) x [i, i+1), so the
 * centre of the top-left pixel is (0.5, 0.5) and an image spans [0, width] x [0, height].
 */
export type Landmarks = Float32Array;

// ---------------------------------------------------------------------------------------------
// Seeded random numbers

/** Mixes 32-bit words into one well-spread 32-bit hash (murmur3's finaliser after each word). */
export function hash32(...words: readonly number[]): number {
  let h = 0x9e3779b9;
  for (const w of words) {
    // Safe integers above 2^32 contribute both halves.
    const lo = w >>> 0;
    const hi = Math.floor(w / 4294967296) >>> 0;
    for (const v of hi ? [lo, hi] : [lo]) {
      h = Math.imul(h ^ v, 0x85ebca6b);
      h ^= h >>> 13;
      h = Math.imul(h, 0xc2b2ae35);
      h ^= h >>> 16;
      h = (h + 0x6a09e667) | 0;
    }
  }
  return h >>> 0;
}

/**
 * Small fast seeded PRNG (sfc32 seeded through splitmix32). Same seed, same sequence on every
 * platform and in every thread. Rng.derive(seed, epoch, index) gives each sample its own stream, so
 * results never depend on which worker handled which sample or in what order.
 */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  /** seed: any safe integer, or several (hashed together). */
  constructor(seed: number | readonly number[] = 0) {
    const words = typeof seed === 'number' ? [seed] : seed;
    for (const w of words) {
      if (!Number.isSafeInteger(w)) throw new ArgumentError(`Rng: seed must be integers, received ${w}`);
    }
    let s = hash32(...words);
    const split = (): number => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = split();
    this.#b = split();
    this.#c = split();
    this.#d = split();
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** A generator for one purpose: hash of the seed and keys (e.g. epoch and sample index). */
  static derive(...keys: readonly number[]): Rng {
    return new Rng(keys);
  }

  nextUint32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    checkInt(n, 'n', 1);
    return Math.floor(this.next() * n);
  }

  /** True with probability p. */
  bool(p = 0.5): boolean {
    return this.next() < p;
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Shuffles in place (Fisher-Yates) and returns the array. */
  shuffle<T>(arr: T[]): T[] {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      const t = arr[i]!;
      arr[i] = arr[j]!;
      arr[j] = t;
    }
    return arr;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): number[] {
    return this.shuffle(Array.from({ length: checkInt(n, 'n', 0) }, (_, i) => i));
  }
}

// ---------------------------------------------------------------------------------------------
// Horizontal flip

/**
 * Mirror partner of each of the 68 iBUG 300-W points: after a horizontal flip, new point i is old
 * point FLIP_68[i]. Jaw 0-16 reversed; brows 17-21 <-> 26-22; nose bridge 27-30 kept; nostrils
 * 31-35 reversed; eyes 36-41 <-> 45,44,43,42,47,46 (outer corner to outer corner, lower lids
 * likewise); outer lips 48-54 reversed with 55-59 reversed; inner lips 60-64 reversed with 65-67
 * reversed. An involution: FLIP_68[FLIP_68[i]] === i.
 */
export const FLIP_68: readonly number[] = Object.freeze([
  // jaw 0-16
  16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0,
  // brows 17-26
  26, 25, 24, 23, 22, 21, 20, 19, 18, 17,
  // nose bridge 27-30, nostrils 31-35
  27, 28, 29, 30, 35, 34, 33, 32, 31,
  // left eye 36-41 <-> right eye 42-47
  45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40,
  // outer lips 48-59
  54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55,
  // inner lips 60-67
  64, 63, 62, 61, 60, 67, 66, 65,
]);

/** Mirror permutation for n points: FLIP_68 for 68, otherwise none known (throws). */
export function flipPermutation(n: number): readonly number[] {
  if (n === 68) return FLIP_68;
  throw new ArgumentError(
    `flip: no mirror permutation known for ${n} landmarks (68-point iBUG 300-W only); pass one`,
  );
}

/** Mirrors landmarks for an image of the given width: x -> width - x, then the point permutation. */
export function hflipLandmarks(lm: Landmarks, width: number, perm?: readonly number[]): Landmarks {
  const n = lm.length / 2;
  const p = perm ?? flipPermutation(n);
  if (p.length !== n) throw new ArgumentError(`flip: permutation has ${p.length} entries for ${n} points`);
  const out = new Float32Array(lm.length);
  for (let i = 0; i < n; i++) {
    const j = p[i]!;
    out[2 * i] = width - lm[2 * j]!;
    out[2 * i + 1] = lm[2 * j + 1]!;
  }
  return out;
}

/** Mirrors an image left to right (a new image). */
export function hflipImage(img: PlanarImage): PlanarImage {
  const { width: w, height: h, channels: c } = img;
  const out = new Float32Array(img.data.length);
  for (let row = 0; row < c * h; row++) {
    const o = row * w;
    for (let x = 0; x < w; x++) out[o + x] = img.data[o + w - 1 - x]!;
  }
  return { data: out, width: w, height: h, channels: c };
}

// ---------------------------------------------------------------------------------------------
// Affine transforms

/**
 * A row-major 2x3 matrix [a, b, c, d, e, f] mapping source point (x, y) to destination
 * (a x + b y + c, d x + e y + f), continuous pixel coordinates (faces.ts's Affine is one).
 */
export type Matrix2x3 = readonly [number, number, number, number, number, number];

const IDENTITY: Matrix2x3 = [1, 0, 0, 0, 1, 0];

/** m1 after m2: the map p -> m1(m2(p)). */
function compose(m1: Matrix2x3, m2: Matrix2x3): Matrix2x3 {
  const [a, b, c, d, e, f] = m1;
  const [A, B, C, D, E, F] = m2;
  return [a * A + b * D, a * B + b * E, a * C + b * F + c, d * A + e * D, d * B + e * E, d * C + e * F + f];
}

function invert(m: Matrix2x3): Matrix2x3 {
  const [a, b, c, d, e, f] = m;
  const det = a * e - b * d;
  if (!Number.isFinite(det) || Math.abs(det) < 1e-12)
    throw new ArgumentError(`augment: affine matrix [${m.join(', ')}] is singular`);
  const ia = e / det;
  const ib = -b / det;
  const id = -d / det;
  const ie = a / det;
  return [ia, ib, -(ia * c + ib * f), id, ie, -(id * c + ie * f)];
}

export interface SimilarityParams {
  /** Degrees; positive turns the content counter-clockwise as seen on screen. Default 0. */
  angle?: number;
  /** Zoom factor about the centre (>1 enlarges the content). Default 1. */
  scale?: number;
  /** Shift of the content in pixels (x right, y down). Default 0. */
  tx?: number;
  ty?: number;
}

/** Rotation and scale about the image centre, then a shift: a source-to-destination matrix. */
export function similarityAbout(width: number, height: number, p: SimilarityParams): Matrix2x3 {
  const cx = width / 2;
  const cy = height / 2;
  const s = p.scale ?? 1;
  const t = ((p.angle ?? 0) * Math.PI) / 180;
  // y points down, so a counter-clockwise turn on screen is a clockwise one in (x, y).
  const a = s * Math.cos(t);
  const b = s * Math.sin(t);
  const tx = p.tx ?? 0;
  const ty = p.ty ?? 0;
  return [a, b, cx - a * cx - b * cy + tx, -b, a, cy + b * cx - a * cy + ty];
}

/** The horizontal flip x -> width - x as a matrix. */
export function hflipMatrix(width: number): Matrix2x3 {
  return [-1, 0, width, 0, 1, 0];
}

/** Applies a source-to-destination matrix to landmarks (a new array). */
export function transformLandmarks(lm: Landmarks, m: Matrix2x3): Landmarks {
  const [a, b, c, d, e, f] = m;
  const out = new Float32Array(lm.length);
  for (let i = 0; i < lm.length; i += 2) {
    const x = lm[i]!;
    const y = lm[i + 1]!;
    out[i] = a * x + b * y + c;
    out[i + 1] = d * x + e * y + f;
  }
  return out;
}

/**
 * The theta for F.affineGrid (alignCorners false) that samples the destination of a
 * source-to-destination matrix m: theta maps normalised output coordinates to normalised input
 * ones, so it is N * inverse(m) * inverse(N) with N(x) = 2x / size - 1. Row-major 2x3.
 */
export function affineToTheta(m: Matrix2x3, width: number, height: number): number[] {
  const toNorm: Matrix2x3 = [2 / width, 0, -1, 0, 2 / height, -1];
  const fromNorm: Matrix2x3 = [width / 2, 0, width / 2, 0, height / 2, height / 2];
  return [...compose(toNorm, compose(invert(m), fromNorm))];
}

/**
 * Warps an image by a source-to-destination matrix: output(p) = input(inverse(m) p), bilinear, with
 * border padding (coordinates outside clamp to the edge), same size. Matches F.gridSample on
 * F.affineGrid(affineToTheta(m)) with mode bilinear, paddingMode border, alignCorners false.
 */
export function warpAffine(img: PlanarImage, m: Matrix2x3): PlanarImage {
  const { width: w, height: h, channels: c, data } = img;
  const [a, b, cc, d, e, f] = invert(m);
  const out = new Float32Array(data.length);
  const plane = w * h;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      // Output pixel centre (x + 0.5, y + 0.5) -> source point -> source pixel-index coordinates.
      let u = a * (x + 0.5) + b * (y + 0.5) + cc - 0.5;
      let v = d * (x + 0.5) + e * (y + 0.5) + f - 0.5;
      u = u < 0 ? 0 : u > w - 1 ? w - 1 : u;
      v = v < 0 ? 0 : v > h - 1 ? h - 1 : v;
      const x0 = Math.floor(u);
      const y0 = Math.floor(v);
      const fx = u - x0;
      const fy = v - y0;
      const x1 = x0 + 1 < w ? x0 + 1 : x0;
      const y1 = y0 + 1 < h ? y0 + 1 : y0;
      const w00 = (1 - fx) * (1 - fy);
      const w01 = fx * (1 - fy);
      const w10 = (1 - fx) * fy;
      const w11 = fx * fy;
      const i00 = y0 * w + x0;
      const i01 = y0 * w + x1;
      const i10 = y1 * w + x0;
      const i11 = y1 * w + x1;
      const o = y * w + x;
      for (let ch = 0, base = 0; ch < c; ch++, base += plane) {
        out[base + o] =
          w00 * data[base + i00]! +
          w01 * data[base + i01]! +
          w10 * data[base + i10]! +
          w11 * data[base + i11]!;
      }
    }
  }
  return { data: out, width: w, height: h, channels: c };
}

// ---------------------------------------------------------------------------------------------
// Colour

export interface ColorFactors {
  /** Multiplies every value (1 = unchanged). */
  brightness?: number;
  /** Blends with the image's mean grey (1 = unchanged, 0 = flat grey). */
  contrast?: number;
  /** Blends each pixel with its own grey (1 = unchanged, 0 = greyscale). */
  saturation?: number;
}

/**
 * torchvision's adjust_brightness, adjust_contrast, adjust_saturation in that order, for values in
 * [0, 1] (clamped after each, as torchvision does). Grey is 0.299 R + 0.587 G + 0.114 B. Returns a
 * new image; a 1-channel image skips saturation.
 */
export function adjustColor(img: PlanarImage, f: ColorFactors): PlanarImage {
  const { width: w, height: h, channels: c } = img;
  const n = w * h;
  const out = Float32Array.from(img.data);
  const clamp01 = (v: number) => (v < 0 ? 0 : v > 1 ? 1 : v);
  const grey = (i: number): number =>
    c === 3 ? 0.299 * out[i]! + 0.587 * out[n + i]! + 0.114 * out[2 * n + i]! : out[i]!;
  const bf = f.brightness ?? 1;
  if (bf !== 1) for (let i = 0; i < out.length; i++) out[i] = clamp01(out[i]! * bf);
  const cf = f.contrast ?? 1;
  if (cf !== 1) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += grey(i);
    const mean = sum / n;
    for (let i = 0; i < out.length; i++) out[i] = clamp01(cf * out[i]! + (1 - cf) * mean);
  }
  const sf = f.saturation ?? 1;
  if (sf !== 1 && c === 3) {
    for (let i = 0; i < n; i++) {
      const g = grey(i);
      for (let ch = 0; ch < 3; ch++) {
        const k = ch * n + i;
        out[k] = clamp01(sf * out[k]! + (1 - sf) * g);
      }
    }
  }
  return { data: out, width: w, height: h, channels: c };
}

// ---------------------------------------------------------------------------------------------
// The random pipeline

export interface AugmentOptions {
  /** Probability of a horizontal flip (default 0.5). */
  flip?: number;
  /** Largest rotation in degrees, drawn uniformly in [-rotate, rotate] (default 10). */
  rotate?: number;
  /** Largest relative zoom, drawn in [1 - scale, 1 + scale] (default 0.05). */
  scale?: number;
  /** Largest shift as a fraction of width/height, each in [-shift, shift] (default 0.03). */
  shift?: number;
  /** Colour jitter strengths: factors drawn in [1 - x, 1 + x] (defaults 0.2, 0.2, 0.2). */
  brightness?: number;
  contrast?: number;
  saturation?: number;
  /** Landmark mirror permutation (default FLIP_68 for 68 points). */
  flipPermutation?: readonly number[];
}

export const DEFAULT_AUGMENT: Readonly<Required<Omit<AugmentOptions, 'flipPermutation'>>> = Object.freeze({
  flip: 0.5,
  rotate: 10,
  scale: 0.05,
  shift: 0.03,
  brightness: 0.2,
  contrast: 0.2,
  saturation: 0.2,
});

/** What one draw decided, so it can be applied again (to a paired image, or to tensors). */
export interface AugmentParams {
  flip: boolean;
  /** Source-to-destination matrix including the flip; identity when nothing moves. */
  matrix: Matrix2x3;
  color: Required<ColorFactors>;
}

function nonNeg(v: number | undefined, name: string, dflt: number): number {
  const x = v ?? dflt;
  if (!(x >= 0) || !Number.isFinite(x))
    throw new ArgumentError(`augment: ${name} must be >= 0, received ${v}`);
  return x;
}

/**
 * Draws augmentation parameters for an image of the given size. Always consumes the same 8 numbers
 * from rng whatever the options, so turning one augmentation off does not reshuffle the others.
 */
export function sampleAugment(
  rng: Rng,
  width: number,
  height: number,
  opts: AugmentOptions = {},
): AugmentParams {
  const pFlip = nonNeg(opts.flip, 'flip', DEFAULT_AUGMENT.flip);
  const rot = nonNeg(opts.rotate, 'rotate', DEFAULT_AUGMENT.rotate);
  const sc = nonNeg(opts.scale, 'scale', DEFAULT_AUGMENT.scale);
  const sh = nonNeg(opts.shift, 'shift', DEFAULT_AUGMENT.shift);
  const br = nonNeg(opts.brightness, 'brightness', DEFAULT_AUGMENT.brightness);
  const co = nonNeg(opts.contrast, 'contrast', DEFAULT_AUGMENT.contrast);
  const sa = nonNeg(opts.saturation, 'saturation', DEFAULT_AUGMENT.saturation);
  const u = Array.from({ length: 8 }, () => rng.next());
  const flip = u[0]! < pFlip;
  const sim = similarityAbout(width, height, {
    angle: rot * (2 * u[1]! - 1),
    scale: 1 + sc * (2 * u[2]! - 1),
    tx: sh * width * (2 * u[3]! - 1),
    ty: sh * height * (2 * u[4]! - 1),
  });
  const matrix = flip ? compose(sim, hflipMatrix(width)) : sim;
  return {
    flip,
    matrix,
    color: {
      brightness: 1 + br * (2 * u[5]! - 1),
      contrast: 1 + co * (2 * u[6]! - 1),
      saturation: 1 + sa * (2 * u[7]! - 1),
    },
  };
}

function isIdentity(m: Matrix2x3): boolean {
  return m.every((v, i) => Math.abs(v - IDENTITY[i]!) < 1e-12);
}

/**
 * Applies drawn parameters: one warp (flip folded into the affine, so one resampling) and the same
 * matrix on the landmarks (with the mirror permutation when flipped), then colour.
 */
export function applyAugment(
  img: PlanarImage,
  landmarks: Landmarks | undefined,
  p: AugmentParams,
  perm?: readonly number[],
): { image: PlanarImage; landmarks?: Landmarks } {
  let image = isIdentity(p.matrix) ? img : warpAffine(img, p.matrix);
  const c = p.color;
  if (c.brightness !== 1 || c.contrast !== 1 || c.saturation !== 1) image = adjustColor(image, c);
  if (!landmarks) return { image };
  let lm = transformLandmarks(landmarks, p.matrix);
  if (p.flip) {
    // The matrix already mirrored x; only reorder the points so that index i means the same part.
    const n = lm.length / 2;
    const order = perm ?? flipPermutation(n);
    const re = new Float32Array(lm.length);
    for (let i = 0; i < n; i++) {
      re[2 * i] = lm[2 * order[i]!]!;
      re[2 * i + 1] = lm[2 * order[i]! + 1]!;
    }
    lm = re;
  }
  return { image, landmarks: lm };
}

/** Draws and applies one random augmentation. */
export function augment(
  img: PlanarImage,
  landmarks: Landmarks | undefined,
  rng: Rng,
  opts: AugmentOptions = {},
): { image: PlanarImage; landmarks?: Landmarks; params: AugmentParams } {
  const params = sampleAugment(rng, img.width, img.height, opts);
  return { ...applyAugment(img, landmarks, params, opts.flipPermutation), params };
}
