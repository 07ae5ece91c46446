// NIQE (Mittal, Soundararajan, Bovik 2013, "Making a completely blind image quality analyzer") with
// the standard pristine model, following BasicSR's calculate_niqe (basicsr/metrics/niqe.py, the
// MATLAB-consistent version):
// - the image's BT.601 Y in studio range (metrics.ts planes(), BasicSR's to_y_channel), 8-bit
//   scale, `cropBorder` pixels dropped on each side, rounded half to even (numpy round);
//   a 1-channel image is used as it is;
// - cut to whole blocks (blockSize x blockSize, no overlap; 96 in BasicSR and MATLAB);
// - two scales: the local mean and deviation of the 7x7 Gaussian window of the model (scipy
//   convolve, edges replicated), MSCN = (x - mu) / (sigma + 1), 18 AGGD features per block (the
//   MSCN and its products with the right, lower, lower-right and lower-left neighbours, rolled
//   cyclically inside the block), then the plane halved by MATLAB's imresize (bicubic with
//   anti-aliasing, symmetric edges) and the blocks halved;
// - a Gaussian fitted to the 36-d block features (mean over finite values, covariance of the
//   blocks without NaN), NIQE = sqrt((mu_p - mu)^T pinv((S_p + S) / 2) (mu_p - mu)).
// Lower is more natural. Checked against a transcription of BasicSR (dev/make_noref_fixtures.py,
// tests/eval-noref.test.ts).
//
// Small images: NIQE is defined on 96x96 blocks and the standard value needs an image of at least
// 96x96 (BasicSR gives nothing for a smaller one). Our restored faces are 64x64, so eval computes it
// with 32x32 blocks (4 blocks per face, `blockSize: 32`): the same features and pristine model, but
// a block sees less context than the model was fitted on and a 36-d Gaussian is fitted to 4 blocks
// (its covariance has rank 3 at most), so the values are not comparable with published NIQE numbers
// and are noisy per face; they compare methods on the same faces. niqe() throws when the image is
// smaller than one block rather than inventing a number.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ArgumentError, FormatError } from '../core/errors.js';
import { planes, type Image8 } from './metrics.js';
import { aggdRatio, gammaFn, packageRoot } from './nss.js';
import { symmetricEigen } from './linalg.js';

export const NIQE_PARAMS_FILE = 'niqe_pristine_params.json';
const FEATURES = 36;

/** The pristine model: mean (36), covariance (36x36, row-major) and the 7x7 Gaussian window. */
export interface NiqeModel {
  mu: Float64Array;
  cov: Float64Array;
  window: Float64Array;
  windowSize: number;
  file: string;
}

export interface NiqeOptions {
  /** Block side in pixels (default 96, the standard). */
  blockSize?: number;
  /** Pixels dropped on each side first (default 0). */
  cropBorder?: number;
}

/** Where the pristine model is looked for, in order: FACESR_NIQE_PARAMS, then ../shared/data/metrics beside the package and beside the working folder. */
export function niqeParamsCandidates(): string[] {
  const rel = path.join('..', 'shared', 'data', 'metrics', NIQE_PARAMS_FILE);
  const out: string[] = [];
  if (process.env.FACESR_NIQE_PARAMS) out.push(path.resolve(process.env.FACESR_NIQE_PARAMS));
  for (const base of [packageRoot(), process.cwd()]) {
    const f = path.resolve(base, rel);
    if (!out.includes(f)) out.push(f);
  }
  return out;
}

/** The pristine model file: `file` when given (it must exist), else the first candidate that exists. */
export function findNiqeParams(file?: string): string {
  if (file) {
    if (!existsSync(file)) throw new ArgumentError(`NIQE pristine model: ${file} does not exist`);
    return file;
  }
  const c = niqeParamsCandidates();
  const found = c.find((f) => existsSync(f));
  if (!found)
    throw new ArgumentError(
      `NIQE needs the standard pristine model ${NIQE_PARAMS_FILE} (mu_pris_param, cov_pris_param, gaussian_window, as published with MATLAB's NIQE and BasicSR): give its path (--niqe-params FILE or the FACESR_NIQE_PARAMS variable); looked in ${c.join(', ')}`,
    );
  return found;
}

function numbers(v: unknown, n: number, what: string, file: string): Float64Array {
  const flat = Array.isArray(v) ? (v.flat(2) as unknown[]) : [];
  if (flat.length !== n || !flat.every((x) => typeof x === 'number'))
    throw new FormatError(`${file}: ${what} must hold ${n} numbers, found ${flat.length}`);
  return Float64Array.from(flat as number[]);
}

/** Reads the pristine model (JSON with mu_pris_param 1x36, cov_pris_param 36x36, gaussian_window k x k). */
export function loadNiqeModel(file?: string): NiqeModel {
  const f = findNiqeParams(file);
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(readFileSync(f, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new FormatError(`${f}: not a JSON NIQE model: ${(err as Error).message}`, { cause: err });
  }
  const win = j.gaussian_window;
  const k = Array.isArray(win) ? win.length : 0;
  if (k < 1 || k % 2 === 0)
    throw new FormatError(`${f}: gaussian_window must be an odd square matrix, found ${k} rows`);
  return {
    mu: numbers(j.mu_pris_param, FEATURES, 'mu_pris_param', f),
    cov: numbers(j.cov_pris_param, FEATURES * FEATURES, 'cov_pris_param', f),
    window: numbers(win, k * k, 'gaussian_window', f),
    windowSize: k,
    file: f,
  };
}

/** numpy's round: half to even. */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * scipy.ndimage.convolve(src, window, mode='nearest') for an odd k x k window, summed in scipy's order
 * (the flipped window's footprint in row-major order, weights below DBL_EPSILON skipped). The order
 * matters: in flat regions x - mu is a rounding residue whose sign decides which side of the AGGD
 * a value is counted on.
 */
function convolveNearest(
  src: Float64Array,
  w: number,
  h: number,
  win: Float64Array,
  k: number,
): Float64Array {
  const out = new Float64Array(w * h);
  const c = (k - 1) / 2;
  const taps: [number, number, number][] = [];
  for (let a = k - 1; a >= 0; a--)
    for (let b = k - 1; b >= 0; b--) {
      const wt = win[a * k + b]!;
      if (Math.abs(wt) > Number.EPSILON) taps.push([c - a, c - b, wt]);
    }
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (const [dy, dx, wt] of taps) {
        let yy = y + dy;
        yy = yy < 0 ? 0 : yy >= h ? h - 1 : yy;
        let xx = x + dx;
        xx = xx < 0 ? 0 : xx >= w ? w - 1 : xx;
        s += src[yy * w + xx]! * wt;
      }
      out[y * w + x] = s;
    }
  return out;
}

function cubic(x: number): number {
  const a = Math.abs(x);
  const a2 = a * a;
  const a3 = a2 * a;
  if (a <= 1) return 1.5 * a3 - 2.5 * a2 + 1;
  if (a <= 2) return -0.5 * a3 + 2.5 * a2 - 4 * a + 2;
  return 0;
}

/** Taps of MATLAB's imresize along one axis (BasicSR's calculate_weights_indices): source index (0-based, symmetric edges) and weight per output pixel. */
function resizeTaps(
  inLen: number,
  outLen: number,
  scale: number,
): { idx: Int32Array; wt: Float64Array; p: number } {
  const aa = scale < 1;
  const kw = aa ? 4 / scale : 4;
  const p = Math.ceil(kw) + 2;
  const idx = new Int32Array(outLen * p);
  const wt = new Float64Array(outLen * p);
  for (let i = 0; i < outLen; i++) {
    const u = (i + 1) / scale + 0.5 * (1 - 1 / scale);
    const left = Math.floor(u - kw / 2);
    let sum = 0;
    for (let j = 0; j < p; j++) {
      const ind = left + j; // 1-based
      const d = u - ind;
      const v = aa ? scale * cubic(d * scale) : cubic(d);
      wt[i * p + j] = v;
      sum += v;
      let s = ind - 1;
      // symmetric padding ('abc|cba'), as img_aug in BasicSR
      while (s < 0 || s >= inLen) s = s < 0 ? -s - 1 : 2 * inLen - 1 - s;
      idx[i * p + j] = s;
    }
    for (let j = 0; j < p; j++) wt[i * p + j]! /= sum;
  }
  return { idx, wt, p };
}

/** MATLAB's imresize (bicubic, anti-aliased when shrinking) of a plane by `scale`, as BasicSR's imresize: H first, then W. */
export function matlabResize(
  src: Float64Array,
  w: number,
  h: number,
  scale: number,
): { data: Float64Array; width: number; height: number } {
  const oh = Math.ceil(h * scale);
  const ow = Math.ceil(w * scale);
  const th = resizeTaps(h, oh, scale);
  const tw = resizeTaps(w, ow, scale);
  const mid = new Float64Array(oh * w);
  for (let i = 0; i < oh; i++)
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let j = 0; j < th.p; j++) s += th.wt[i * th.p + j]! * src[th.idx[i * th.p + j]! * w + x]!;
      mid[i * w + x] = s;
    }
  const out = new Float64Array(oh * ow);
  for (let y = 0; y < oh; y++)
    for (let i = 0; i < ow; i++) {
      let s = 0;
      for (let j = 0; j < tw.p; j++) s += tw.wt[i * tw.p + j]! * mid[y * w + tw.idx[i * tw.p + j]!]!;
      out[y * ow + i] = s;
    }
  return { data: out, width: ow, height: oh };
}

// np.arange(0.2, 10.001, 0.001) and r(α) on it, computed once.
let grid: { gam: Float64Array; r: Float64Array } | null = null;
function aggdGrid(): { gam: Float64Array; r: Float64Array } {
  if (!grid) {
    const n = Math.ceil((10.001 - 0.2) / 0.001);
    const gam = new Float64Array(n);
    const r = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      gam[i] = 0.2 + i * 0.001;
      r[i] = aggdRatio(gam[i]!);
    }
    grid = { gam, r };
  }
  return grid;
}

/** BasicSR's estimate_aggd_param: alpha (grid argmin), beta_l, beta_r. */
function aggd(v: Float64Array): [number, number, number] {
  let ln = 0;
  let ls = 0;
  let rn = 0;
  let rs = 0;
  let abs = 0;
  let sq = 0;
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    if (x < 0) {
      ln++;
      ls += x * x;
    } else if (x > 0) {
      rn++;
      rs += x * x;
    }
    abs += Math.abs(x);
    sq += x * x;
  }
  const leftStd = Math.sqrt(ls / ln); // NaN without negative values, as numpy's mean of nothing
  const rightStd = Math.sqrt(rs / rn);
  const gh = leftStd / rightStd;
  const n = v.length;
  const rhat = (abs / n) ** 2 / (sq / n);
  const rhatnorm = (rhat * (gh ** 3 + 1) * (gh + 1)) / (gh ** 2 + 1) ** 2;
  const { gam, r } = aggdGrid();
  let best = 0; // np.argmin: first minimum; index 0 when everything is NaN
  let bestD = Infinity;
  if (!Number.isNaN(rhatnorm))
    for (let i = 0; i < r.length; i++) {
      const d = (r[i]! - rhatnorm) ** 2;
      if (d < bestD) {
        bestD = d;
        best = i;
      }
    }
  const alpha = gam[best]!;
  const c = Math.sqrt(gammaFn(1 / alpha) / gammaFn(3 / alpha));
  return [alpha, leftStd * c, rightStd * c];
}

const SHIFTS: [number, number][] = [
  [0, 1],
  [1, 0],
  [1, 1],
  [1, -1],
];

/** BasicSR's compute_feature for one bw x bh block: 18 numbers. */
function blockFeatures(b: Float64Array, bw: number, bh: number, out: number[]): void {
  const [a0, l0, r0] = aggd(b);
  out.push(a0, (l0 + r0) / 2);
  const prod = new Float64Array(b.length);
  for (const [s0, s1] of SHIFTS) {
    // np.roll(block, (s0, s1), axis=(0, 1)): shifted[i, j] = block[(i - s0) mod bh, (j - s1) mod bw]
    for (let i = 0; i < bh; i++) {
      const si = (((i - s0) % bh) + bh) % bh;
      for (let j = 0; j < bw; j++) {
        const sj = (((j - s1) % bw) + bw) % bw;
        prod[i * bw + j] = b[i * bw + j]! * b[si * bw + sj]!;
      }
    }
    const [a, l, r] = aggd(prod);
    const mean = (r - l) * (gammaFn(2 / a) / gammaFn(1 / a));
    out.push(a, mean, l, r);
  }
}

/** The 36-d features of each block (rows, blocks in BasicSR's order: column of blocks outer). */
export function niqeBlockFeatures(
  plane: Float64Array,
  width: number,
  height: number,
  model: NiqeModel,
  blockSize = 96,
): number[][] {
  if (!(Number.isInteger(blockSize) && blockSize >= 2))
    throw new ArgumentError(`Expected integer >= 2 for NIQE blockSize but received ${blockSize}`);
  const nbh = Math.floor(height / blockSize);
  const nbw = Math.floor(width / blockSize);
  if (nbh === 0 || nbw === 0)
    throw new ArgumentError(
      `niqe: a ${width}x${height} image is smaller than one ${blockSize}x${blockSize} block (give a smaller blockSize, e.g. 32 for 64x64 faces)`,
    );
  let w = nbw * blockSize;
  let h = nbh * blockSize;
  let img = new Float64Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) img[y * w + x] = plane[y * width + x]!;
  const rows: number[][] = Array.from({ length: nbh * nbw }, () => []);
  for (const scale of [1, 2]) {
    const k = model.windowSize;
    const mu = convolveNearest(img, w, h, model.window, k);
    const sq = img.map((v) => v * v);
    const m2 = convolveNearest(sq, w, h, model.window, k);
    const norm = new Float64Array(w * h);
    for (let i = 0; i < norm.length; i++) {
      const sigma = Math.sqrt(Math.abs(m2[i]! - mu[i]! * mu[i]!));
      norm[i] = (img[i]! - mu[i]!) / (sigma + 1);
    }
    let r = 0;
    for (let bx = 0; bx < nbw; bx++)
      for (let by = 0; by < nbh; by++) {
        const y0 = Math.floor((by * blockSize) / scale);
        const y1 = Math.floor(((by + 1) * blockSize) / scale);
        const x0 = Math.floor((bx * blockSize) / scale);
        const x1 = Math.floor(((bx + 1) * blockSize) / scale);
        const bw = x1 - x0;
        const bh = y1 - y0;
        const b = new Float64Array(bw * bh);
        for (let y = 0; y < bh; y++)
          for (let x = 0; x < bw; x++) b[y * bw + x] = norm[(y0 + y) * w + x0 + x]!;
        blockFeatures(b, bw, bh, rows[r++]!);
      }
    if (scale === 1) {
      const half = matlabResize(
        img.map((v) => v / 255),
        w,
        h,
        0.5,
      );
      img = half.data.map((v) => v * 255);
      w = half.width;
      h = half.height;
    }
  }
  return rows;
}

/** Moore-Penrose inverse of a symmetric matrix from its eigen-decomposition (numpy's rcond 1e-15). */
export function pinvSymmetric(m: Float64Array, n: number): Float64Array {
  const { values, vectors: v } = symmetricEigen(m, n);
  const ev = Array.from(values);
  const cutoff = 1e-15 * Math.max(...ev.map(Math.abs));
  const out = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    if (!(Math.abs(ev[k]!) > cutoff)) continue;
    const inv = 1 / ev[k]!;
    for (let i = 0; i < n; i++) {
      const vik = v[i * n + k]! * inv;
      for (let j = 0; j < n; j++) out[i * n + j]! += vik * v[j * n + k]!;
    }
  }
  return out;
}

/** NIQE from block features: the fitted Gaussian's distance to the pristine one. NaN with fewer than 2 complete blocks. */
export function niqeFromFeatures(rows: readonly (readonly number[])[], model: NiqeModel): number {
  const n = FEATURES;
  const mu = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    let s = 0;
    let c = 0;
    for (const r of rows)
      if (!Number.isNaN(r[j]!)) {
        s += r[j]!;
        c++;
      }
    mu[j] = s / c;
  }
  const good = rows.filter((r) => r.every((x) => !Number.isNaN(x)));
  if (good.length < 2 || mu.some((x) => Number.isNaN(x))) return NaN;
  const gm = new Float64Array(n);
  for (const r of good) for (let j = 0; j < n; j++) gm[j]! += r[j]! / good.length;
  const cov = new Float64Array(n * n);
  for (const r of good)
    for (let i = 0; i < n; i++) {
      const di = r[i]! - gm[i]!;
      for (let j = 0; j < n; j++) cov[i * n + j]! += (di * (r[j]! - gm[j]!)) / (good.length - 1);
    }
  for (let i = 0; i < n * n; i++) cov[i] = (model.cov[i]! + cov[i]!) / 2;
  const inv = pinvSymmetric(cov, n);
  let q = 0;
  for (let i = 0; i < n; i++) {
    const di = model.mu[i]! - mu[i]!;
    for (let j = 0; j < n; j++) q += di * inv[i * n + j]! * (model.mu[j]! - mu[j]!);
  }
  return Math.sqrt(q);
}

/** The plane NIQE measures: Y (studio range, 8-bit scale) of an RGB image or the single channel, cropped, rounded. */
export function niqePlane(
  img: Image8,
  cropBorder = 0,
): { data: Float64Array; width: number; height: number } {
  if (img.channels !== 1 && img.channels !== 3)
    throw new ArgumentError(`niqe: expected a 1- or 3-channel image, received ${img.channels} channels`);
  if (img.data.length !== img.width * img.height * img.channels)
    throw new ArgumentError(
      `niqe: image is ${img.width}x${img.height}x${img.channels} but holds ${img.data.length} values`,
    );
  if (!(Number.isInteger(cropBorder) && cropBorder >= 0))
    throw new ArgumentError(`Expected non-negative integer for cropBorder but received ${cropBorder}`);
  if (img.width - 2 * cropBorder < 1 || img.height - 2 * cropBorder < 1)
    throw new ArgumentError(
      `niqe: cropBorder ${cropBorder} leaves nothing of a ${img.width}x${img.height} image`,
    );
  const p = planes(img, { y: img.channels === 3, cropBorder });
  const d = p.data[0]!.map(roundHalfEven);
  return { data: d, width: p.width, height: p.height };
}

/** NIQE of an 8-bit image (lower is more natural). */
export function niqe(img: Image8, model: NiqeModel, o: NiqeOptions = {}): number {
  const p = niqePlane(img, o.cropBorder ?? 0);
  return niqeFromFeatures(niqeBlockFeatures(p.data, p.width, p.height, model, o.blockSize ?? 96), model);
}
