// Full-reference image quality: PSNR and SSIM with BasicSR's conventions (basicsr/metrics/psnr_ssim.py),
// the ones SR papers report:
// - inputs are 8-bit images (values 0..255); model outputs are quantised first (toImage8 in run.ts);
// - `y: true` measures the luma of ITU-R BT.601 in studio range, as BasicSR's to_y_channel /
//   MATLAB rgb2ycbcr: Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255 for 8-bit R, G, B (Y in
//   [16, 235]), computed in float32 as BasicSR does;
// - `cropBorder` pixels are dropped on every side first;
// - PSNR = 10 log10(255^2 / MSE) over all kept pixels and channels (Infinity for identical images);
// - SSIM: 11x11 Gaussian window (sigma 1.5), C1 = (0.01 * 255)^2, C2 = (0.03 * 255)^2, 'valid'
//   filtering (no padding), mean of the SSIM map per channel, then mean over channels.
// Checked against a numpy transcription of BasicSR (dev/make_eval_fixtures.py, tests/eval-metrics).
import { ArgumentError } from '../core/errors.js';

/** An 8-bit image, interleaved HWC (1 or 3 channels), as readImage and sharp give them. */
export interface Image8 {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
  channels: number;
}

export interface MetricOptions {
  /** Measure on BT.601 Y (studio range) instead of every RGB channel (default false). */
  y?: boolean;
  /** Pixels dropped on each side before measuring (default 0). */
  cropBorder?: number;
}

function check(a: Image8, b: Image8, who: string, o: MetricOptions): number {
  for (const [img, name] of [
    [a, 'a'],
    [b, 'b'],
  ] as const) {
    if (img.data.length !== img.width * img.height * img.channels)
      throw new ArgumentError(
        `${who}: image ${name} is ${img.width}x${img.height}x${img.channels} but holds ${img.data.length} values`,
      );
  }
  if (a.width !== b.width || a.height !== b.height || a.channels !== b.channels)
    throw new ArgumentError(
      `${who}: images differ in size: ${a.width}x${a.height}x${a.channels} and ${b.width}x${b.height}x${b.channels}`,
    );
  if (o.y && a.channels !== 3)
    throw new ArgumentError(`${who}: y needs RGB images, received ${a.channels} channels`);
  const cb = o.cropBorder ?? 0;
  if (!(Number.isInteger(cb) && cb >= 0))
    throw new ArgumentError(`Expected non-negative integer for cropBorder but received ${cb}`);
  if (a.width - 2 * cb < 1 || a.height - 2 * cb < 1)
    throw new ArgumentError(`${who}: cropBorder ${cb} leaves nothing of a ${a.width}x${a.height} image`);
  return cb;
}

const f32 = Math.fround;

/**
 * Planar float64 channels of the cropped image: each channel's values, or the Y plane (computed in
 * float32 like BasicSR's to_y_channel: (v / 255 as float32) . weights + 16, / 255 to float32, * 255
 * in float32).
 */
export function planes(
  img: Image8,
  o: MetricOptions = {},
): { data: Float64Array[]; width: number; height: number } {
  const cb = o.cropBorder ?? 0;
  const w = img.width - 2 * cb;
  const h = img.height - 2 * cb;
  const C = img.channels;
  const src = img.data;
  if (o.y) {
    const out = new Float64Array(w * h);
    for (let y = 0; y < h; y++) {
      let p = ((y + cb) * img.width + cb) * C;
      for (let x = 0; x < w; x++, p += C) {
        const r = f32(src[p]! / 255);
        const g = f32(src[p + 1]! / 255);
        const b = f32(src[p + 2]! / 255);
        const yv = r * 65.481 + g * 128.553 + b * 24.966 + 16.0;
        out[y * w + x] = f32(f32(yv / 255) * 255);
      }
    }
    return { data: [out], width: w, height: h };
  }
  const out = Array.from({ length: C }, () => new Float64Array(w * h));
  for (let y = 0; y < h; y++) {
    let p = ((y + cb) * img.width + cb) * C;
    for (let x = 0; x < w; x++) for (let c = 0; c < C; c++) out[c]![y * w + x] = src[p++]!;
  }
  return { data: out, width: w, height: h };
}

/** PSNR in dB (peak 255), BasicSR's calculate_psnr. Infinity when the images are equal. */
export function psnr(a: Image8, b: Image8, o: MetricOptions = {}): number {
  check(a, b, 'psnr', o);
  const pa = planes(a, o);
  const pb = planes(b, o);
  let sum = 0;
  let n = 0;
  for (let c = 0; c < pa.data.length; c++) {
    const x = pa.data[c]!;
    const z = pb.data[c]!;
    for (let i = 0; i < x.length; i++) {
      const d = x[i]! - z[i]!;
      sum += d * d;
    }
    n += x.length;
  }
  const mse = sum / n;
  return mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse);
}

/** cv2.getGaussianKernel(size, sigma): normalised exp(-(i - c)^2 / (2 sigma^2)). */
export function gaussianWindow1d(size = 11, sigma = 1.5): Float64Array {
  const k = new Float64Array(size);
  const c = (size - 1) / 2;
  let s = 0;
  for (let i = 0; i < size; i++) s += k[i] = Math.exp(-((i - c) ** 2) / (2 * sigma * sigma));
  for (let i = 0; i < size; i++) k[i]! /= s;
  return k;
}

const WINDOW = gaussianWindow1d(11, 1.5);
const C1 = (0.01 * 255) ** 2;
const C2 = (0.03 * 255) ** 2;

/** 'valid' separable correlation of a w x h plane with the window: (w-10) x (h-10). */
function filterValid(src: Float64Array, w: number, h: number, tmp: Float64Array, out: Float64Array): void {
  const k = WINDOW.length;
  const ow = w - k + 1;
  const oh = h - k + 1;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < ow; x++) {
      let s = 0;
      const p = y * w + x;
      for (let j = 0; j < k; j++) s += WINDOW[j]! * src[p + j]!;
      tmp[y * ow + x] = s;
    }
  for (let y = 0; y < oh; y++)
    for (let x = 0; x < ow; x++) {
      let s = 0;
      for (let j = 0; j < k; j++) s += WINDOW[j]! * tmp[(y + j) * ow + x]!;
      out[y * ow + x] = s;
    }
}

/** SSIM of two planes (BasicSR's _ssim). */
function ssimPlane(a: Float64Array, b: Float64Array, w: number, h: number): number {
  const ow = w - WINDOW.length + 1;
  const oh = h - WINDOW.length + 1;
  const n = ow * oh;
  const tmp = new Float64Array(h * ow);
  const mu1 = new Float64Array(n);
  const mu2 = new Float64Array(n);
  const s11 = new Float64Array(n);
  const s22 = new Float64Array(n);
  const s12 = new Float64Array(n);
  const prod = new Float64Array(a.length);
  filterValid(a, w, h, tmp, mu1);
  filterValid(b, w, h, tmp, mu2);
  for (let i = 0; i < a.length; i++) prod[i] = a[i]! * a[i]!;
  filterValid(prod, w, h, tmp, s11);
  for (let i = 0; i < a.length; i++) prod[i] = b[i]! * b[i]!;
  filterValid(prod, w, h, tmp, s22);
  for (let i = 0; i < a.length; i++) prod[i] = a[i]! * b[i]!;
  filterValid(prod, w, h, tmp, s12);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const m1 = mu1[i]!;
    const m2 = mu2[i]!;
    const m11 = m1 * m1;
    const m22 = m2 * m2;
    const m12 = m1 * m2;
    const v1 = s11[i]! - m11;
    const v2 = s22[i]! - m22;
    const v12 = s12[i]! - m12;
    sum += ((2 * m12 + C1) * (2 * v12 + C2)) / ((m11 + m22 + C1) * (v1 + v2 + C2));
  }
  return sum / n;
}

/** SSIM (BasicSR's calculate_ssim): mean over channels (or Y) of the mean SSIM map. Needs >= 11x11 after cropping. */
export function ssim(a: Image8, b: Image8, o: MetricOptions = {}): number {
  const cb = check(a, b, 'ssim', o);
  if (a.width - 2 * cb < WINDOW.length || a.height - 2 * cb < WINDOW.length)
    throw new ArgumentError(
      `ssim: needs at least ${WINDOW.length}x${WINDOW.length} pixels after cropBorder ${cb}, received ${a.width}x${a.height}`,
    );
  const pa = planes(a, o);
  const pb = planes(b, o);
  let s = 0;
  for (let c = 0; c < pa.data.length; c++) s += ssimPlane(pa.data[c]!, pb.data[c]!, pa.width, pa.height);
  return s / pa.data.length;
}

/** The four numbers eval reports for one restored face against its HR. */
export interface QualityScores {
  psnr: number;
  psnr_y: number;
  ssim: number;
  ssim_y: number;
}

export function qualityScores(restored: Image8, hr: Image8, cropBorder = 0): QualityScores {
  return {
    psnr: psnr(restored, hr, { cropBorder }),
    psnr_y: psnr(restored, hr, { cropBorder, y: true }),
    ssim: ssim(restored, hr, { cropBorder }),
    ssim_y: ssim(restored, hr, { cropBorder, y: true }),
  };
}
