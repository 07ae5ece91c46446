// BRISQUE (Mittal, Moorthy, Bovik 2012, "No-reference image quality assessment in the spatial
// domain") as OpenCV's quality module computes it (opencv_contrib modules/quality/src/
// qualitybrisque.cpp), with the LIVE model OpenCV ships (Debian package opencv-data:
// /usr/share/opencv4/quality/brisque_model_live.yml and brisque_range_live.yml):
// - gray = OpenCV's BGR2GRAY of the 8-bit image ((19596 R + 38470 G + 7470 B + 32768) >> 16),
//   scaled to [0, 1]; a 1-channel image is used as it is;
// - two scales: the image itself, then cv::resize to (floor(w/2), floor(h/2)) with INTER_CUBIC
//   (a = -0.75, edges replicated); at each, MSCN = (x - mu) / (sigma + 1/255) with mu and sigma
//   from a 7x7 Gaussian (sigma 7/6, edges replicated); an AGGD fit of the MSCN (shape, mean of the
//   two variances) and of its products with the right, lower, lower-right and upper-right
//   neighbours (zero outside the image): shape, mean, left and right variances -> 36 features;
//   AGGD shape = first local minimum of |r(g) - r_hat| for g = 0.2, 0.201, ... (OpenCV's search);
// - features scaled to [-1, 1] by the range file, RBF epsilon-SVR of the model file, clamped to
//   [0, 100]. Lower is better.
// Computed in float64 (OpenCV uses float32), so scores differ from OpenCV's in the last digits;
// checked against OpenCV itself (dev/make_noref_fixtures.py, tests/eval-noref.test.ts).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ArgumentError, FormatError } from '../core/errors.js';
import type { Image8 } from './metrics.js';
import { aggdRatio, gammaFn, gaussianKernel } from './nss.js';

/** Where Debian's opencv-data puts the BRISQUE model. */
export const BRISQUE_DEFAULT_DIR = '/usr/share/opencv4/quality';
export const BRISQUE_MODEL_FILE = 'brisque_model_live.yml';
export const BRISQUE_RANGE_FILE = 'brisque_range_live.yml';
const FEATURES = 36;

export interface BrisqueModel {
  /** RBF gamma of the SVR. */
  gamma: number;
  rho: number;
  /** Support vectors, row-major (count x 36). */
  sv: Float64Array;
  /** Dual coefficient of each support vector. */
  alpha: Float64Array;
  count: number;
  /** Feature range of the training data: rows min and max. */
  lo: Float64Array;
  hi: Float64Array;
  files: { model: string; range: string };
}

/** The folder of the model files: `dir`, else FACESR_BRISQUE_DIR, else opencv-data's folder. */
export function brisqueDir(dir?: string): string {
  return dir ?? process.env.FACESR_BRISQUE_DIR ?? BRISQUE_DEFAULT_DIR;
}

function numbersIn(text: string): number[] {
  return (text.match(/[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?/g) ?? []).map(Number);
}

function field(text: string, name: string, file: string): string {
  const m = new RegExp(`^\\s*${name}:\\s*(.+)$`, 'm').exec(text);
  if (!m) throw new FormatError(`${file}: no '${name}' field (not an OpenCV SVM/range file?)`);
  return m[1]!.trim();
}

/** Reads OpenCV's BRISQUE model (an opencv_ml_svm EPS_SVR with an RBF kernel, YAML) and its range file. */
export function loadBrisqueModel(dir?: string): BrisqueModel {
  const d = brisqueDir(dir);
  const model = path.join(d, BRISQUE_MODEL_FILE);
  const range = path.join(d, BRISQUE_RANGE_FILE);
  for (const f of [model, range])
    if (!existsSync(f))
      throw new ArgumentError(
        `BRISQUE needs OpenCV's model files ${BRISQUE_MODEL_FILE} and ${BRISQUE_RANGE_FILE}: ${f} does not exist. Install Debian's opencv-data (apt-get install opencv-data, done by scripts/setup.sh) or give their folder (--brisque-model DIR or the FACESR_BRISQUE_DIR variable)`,
      );
  const m = readFileSync(model, 'utf8');
  if (!/opencv_ml_svm:/.test(m)) throw new FormatError(`${model}: not an OpenCV SVM model`);
  const svmType = field(m, 'svmType', model);
  if (svmType !== 'EPS_SVR') throw new FormatError(`${model}: expected svmType EPS_SVR, found ${svmType}`);
  const kernel = /kernel:\s*\n\s*type:\s*(\w+)/.exec(m)?.[1];
  if (kernel !== 'RBF') throw new FormatError(`${model}: expected an RBF kernel, found ${kernel ?? 'none'}`);
  const gamma = Number(field(m, 'gamma', model));
  const varCount = Number(field(m, 'var_count', model));
  const count = Number(field(m, 'sv_total', model));
  if (varCount !== FEATURES)
    throw new FormatError(`${model}: expected var_count ${FEATURES}, found ${varCount}`);
  const svStart = m.indexOf('support_vectors:');
  const dfStart = m.indexOf('decision_functions:');
  if (svStart < 0 || dfStart < svStart)
    throw new FormatError(`${model}: no support_vectors / decision_functions`);
  const sv = Float64Array.from(numbersIn(m.slice(svStart + 'support_vectors:'.length, dfStart)));
  if (sv.length !== count * varCount)
    throw new FormatError(
      `${model}: expected ${count} x ${varCount} support vector values, found ${sv.length}`,
    );
  const df = m.slice(dfStart);
  if (/^\s*-\s*\n\s*sv_count:[\s\S]*^\s*-\s*\n\s*sv_count:/m.test(df))
    throw new FormatError(`${model}: more than one decision function (expected a regression model)`);
  const rho = Number(field(df, 'rho', model));
  const alphaText = /alpha:\s*\[([^\]]*)\]/.exec(df)?.[1];
  const alpha = Float64Array.from(numbersIn(alphaText ?? ''));
  let order: number[] | null = null;
  const idxText = /index:\s*\[([^\]]*)\]/.exec(df)?.[1];
  if (idxText) order = numbersIn(idxText);
  const used = order ?? Array.from({ length: count }, (_, i) => i);
  if (alpha.length !== used.length)
    throw new FormatError(`${model}: ${alpha.length} alpha values for ${used.length} support vectors`);
  const svUsed = new Float64Array(used.length * varCount);
  used.forEach((k, i) => svUsed.set(sv.subarray(k * varCount, (k + 1) * varCount), i * varCount));
  const r = readFileSync(range, 'utf8');
  const dataText = /data:\s*\[([^\]]*)\]/.exec(r)?.[1];
  const rv = numbersIn(dataText ?? '');
  if (rv.length !== 2 * FEATURES)
    throw new FormatError(`${range}: expected a 2 x ${FEATURES} range matrix, found ${rv.length} values`);
  if (!(gamma > 0) || !Number.isFinite(rho)) throw new FormatError(`${model}: bad gamma or rho`);
  return {
    gamma,
    rho,
    sv: svUsed,
    alpha,
    count: used.length,
    lo: Float64Array.from(rv.slice(0, FEATURES)),
    hi: Float64Array.from(rv.slice(FEATURES)),
    files: { model, range },
  };
}

/** OpenCV's BGR2GRAY of 8-bit RGB (bit-exact), scaled to [0, 1]. */
export function brisqueGray(img: Image8): Float64Array {
  const n = img.width * img.height;
  if (img.data.length !== n * img.channels)
    throw new ArgumentError(
      `brisque: image is ${img.width}x${img.height}x${img.channels} but holds ${img.data.length} values`,
    );
  const out = new Float64Array(n);
  if (img.channels === 1) for (let i = 0; i < n; i++) out[i] = img.data[i]! / 255;
  else if (img.channels === 3 || img.channels === 4)
    for (let i = 0, p = 0; i < n; i++, p += img.channels)
      out[i] =
        ((img.data[p]! * 19596 + img.data[p + 1]! * 38470 + img.data[p + 2]! * 7470 + 32768) >> 16) / 255;
  else throw new ArgumentError(`brisque: expected 1, 3 or 4 channels, received ${img.channels}`);
  return out;
}

/** cv::resize(INTER_CUBIC) of a plane to ow x oh (a = -0.75, source indices clamped). */
export function resizeCubicCv(src: Float64Array, w: number, h: number, ow: number, oh: number): Float64Array {
  if (ow === w && oh === h) return Float64Array.from(src);
  const A = -0.75;
  const taps = (inLen: number, outLen: number) => {
    const scale = 1 / (outLen / inLen);
    const idx = new Int32Array(outLen * 4);
    const wt = new Float64Array(outLen * 4);
    for (let d = 0; d < outLen; d++) {
      const f = Math.fround((d + 0.5) * scale - 0.5);
      const s = Math.floor(f);
      const x = f - s;
      const c0 = ((A * (x + 1) - 5 * A) * (x + 1) + 8 * A) * (x + 1) - 4 * A;
      const c1 = ((A + 2) * x - (A + 3)) * x * x + 1;
      const c2 = ((A + 2) * (1 - x) - (A + 3)) * (1 - x) * (1 - x) + 1;
      const cs = [c0, c1, c2, 1 - c0 - c1 - c2];
      for (let k = 0; k < 4; k++) {
        const j = s - 1 + k;
        idx[d * 4 + k] = j < 0 ? 0 : j >= inLen ? inLen - 1 : j;
        wt[d * 4 + k] = cs[k]!;
      }
    }
    return { idx, wt };
  };
  const tx = taps(w, ow);
  const ty = taps(h, oh);
  const mid = new Float64Array(h * ow);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < ow; x++) {
      let s = 0;
      for (let k = 0; k < 4; k++) s += tx.wt[x * 4 + k]! * src[y * w + tx.idx[x * 4 + k]!]!;
      mid[y * ow + x] = s;
    }
  const out = new Float64Array(oh * ow);
  for (let y = 0; y < oh; y++)
    for (let x = 0; x < ow; x++) {
      let s = 0;
      for (let k = 0; k < 4; k++) s += ty.wt[y * 4 + k]! * mid[ty.idx[y * 4 + k]! * ow + x]!;
      out[y * ow + x] = s;
    }
  return out;
}

const KERNEL = gaussianKernel(7, 7 / 6);

/** 7x7 Gaussian (sigma 7/6), BORDER_REPLICATE, separable. */
function blur(src: Float64Array, w: number, h: number): Float64Array {
  const tmp = new Float64Array(w * h);
  const out = new Float64Array(w * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let k = 0; k < 7; k++) {
        const xx = Math.min(w - 1, Math.max(0, x + k - 3));
        s += KERNEL[k]! * src[y * w + xx]!;
      }
      tmp[y * w + x] = s;
    }
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let k = 0; k < 7; k++) {
        const yy = Math.min(h - 1, Math.max(0, y + k - 3));
        s += KERNEL[k]! * tmp[yy * w + x]!;
      }
      out[y * w + x] = s;
    }
  return out;
}

// OpenCV's search grid: g = 0.2, then g += 0.001 (accumulated) while g < 10, and r(g) on it.
let grid: { gam: number[]; r: number[] } | null = null;
function searchGrid(): { gam: number[]; r: number[] } {
  if (!grid) {
    const gam: number[] = [];
    const r: number[] = [];
    for (let g = 0.2; g < 10; g += 0.001) {
      gam.push(g);
      r.push(aggdRatio(g));
    }
    grid = { gam, r };
  }
  return grid;
}

/** OpenCV's AGGDfit: [shape, left sigma, right sigma]. */
function aggdFit(v: Float64Array): [number, number, number] {
  let pc = 0;
  let nc = 0;
  let ps = 0;
  let ns = 0;
  let abs = 0;
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    if (x > 0) {
      pc++;
      ps += x * x;
    } else if (x < 0) {
      nc++;
      ns += x * x;
    }
    if (!Number.isNaN(x)) abs += Math.abs(x);
  }
  const l = Math.sqrt(ns / nc);
  const r = Math.sqrt(ps / pc);
  const gh = l / r;
  const n = v.length;
  const rhat = (abs / n) ** 2 / ((ns + ps) / n);
  const rhatnorm = (rhat * (gh ** 3 + 1) * (gh + 1)) / (gh ** 2 + 1) ** 2;
  const { gam, r: rg } = searchGrid();
  let prevGamma = 0;
  let prevDiff = 1e10;
  for (let i = 0; i < gam.length; i++) {
    const diff = Math.abs(rg[i]! - rhatnorm);
    if (diff > prevDiff) break;
    prevDiff = diff;
    prevGamma = gam[i]!;
  }
  return [prevGamma, l, r];
}

const SHIFTS: [number, number][] = [
  [0, 1],
  [1, 0],
  [1, 1],
  [-1, 1],
];

/** The 36 BRISQUE features of an 8-bit image (OpenCV's QualityBRISQUE::computeFeatures). */
export function brisqueFeatures(img: Image8): Float64Array {
  if (img.width < 2 || img.height < 2)
    throw new ArgumentError(`brisque: needs at least 2x2 pixels, received ${img.width}x${img.height}`);
  const gray = brisqueGray(img);
  const feat: number[] = [];
  for (let scale = 1; scale <= 2; scale++) {
    const w = Math.floor(img.width / 2 ** (scale - 1));
    const h = Math.floor(img.height / 2 ** (scale - 1));
    const x = resizeCubicCv(gray, img.width, img.height, w, h);
    const mu = blur(x, w, h);
    const m2 = blur(
      x.map((v) => v * v),
      w,
      h,
    );
    const mscn = new Float64Array(w * h);
    for (let i = 0; i < mscn.length; i++) {
      const sigma = Math.sqrt(Math.abs(m2[i]! - mu[i]! * mu[i]!)) + 1 / 255;
      mscn[i] = (x[i]! - mu[i]!) / sigma;
    }
    const [g0, l0, r0] = aggdFit(mscn);
    feat.push(g0, (l0 * l0 + r0 * r0) / 2);
    const prod = new Float64Array(w * h);
    for (const [di, dj] of SHIFTS) {
      for (let i = 0; i < h; i++)
        for (let j = 0; j < w; j++) {
          const ii = i + di;
          const jj = j + dj;
          prod[i * w + j] =
            ii >= 0 && ii < h && jj >= 0 && jj < w ? mscn[i * w + j]! * mscn[ii * w + jj]! : 0;
        }
      const [g, l, r] = aggdFit(prod);
      const c = Math.sqrt(gammaFn(1 / g)) / Math.sqrt(gammaFn(3 / g));
      feat.push(g, (r - l) * (gammaFn(2 / g) / gammaFn(1 / g)) * c, l * l, r * r);
    }
  }
  return Float64Array.from(feat);
}

/** The SVR score of a feature vector (scaled by the range file), clamped to [0, 100]. */
export function brisqueFromFeatures(feat: ArrayLike<number>, model: BrisqueModel): number {
  if (feat.length !== FEATURES)
    throw new ArgumentError(`brisque: expected ${FEATURES} features, received ${feat.length}`);
  const x = new Float64Array(FEATURES);
  for (let j = 0; j < FEATURES; j++)
    x[j] = -1 + (2 * (feat[j]! - model.lo[j]!)) / (model.hi[j]! - model.lo[j]!);
  let s = -model.rho;
  for (let k = 0; k < model.count; k++) {
    let d = 0;
    const o = k * FEATURES;
    for (let j = 0; j < FEATURES; j++) {
      const t = x[j]! - model.sv[o + j]!;
      d += t * t;
    }
    s += model.alpha[k]! * Math.exp(-model.gamma * d);
  }
  return Number.isNaN(s) ? NaN : Math.min(100, Math.max(0, s));
}

/** BRISQUE score of an 8-bit image, 0 (best) to 100 (worst). */
export function brisque(img: Image8, model: BrisqueModel): number {
  return brisqueFromFeatures(brisqueFeatures(img), model);
}
