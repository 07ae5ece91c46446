// Shared pieces of the natural-scene-statistics metrics (niqe.ts, brisque.ts): the gamma function,
// the AGGD shape ratio, Gaussian kernels and finding the data files both need.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// Lanczos approximation (g = 7, n = 9): relative error about 1e-15 for the arguments used here (0.1..15).
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** The gamma function Γ(x) for real x (reflection below 0.5). */
export function gammaFn(x: number): number {
  if (x < 0.5) return Math.PI / (Math.sin(Math.PI * x) * gammaFn(1 - x));
  const z = x - 1;
  let a = LANCZOS[0]!;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i]! / (z + i);
  return Math.sqrt(2 * Math.PI) * Math.pow(t, z + 0.5) * Math.exp(-t) * a;
}

/** r(α) = Γ(2/α)^2 / (Γ(1/α) Γ(3/α)), the ratio an AGGD shape α is fitted by. */
export function aggdRatio(alpha: number): number {
  const g2 = gammaFn(2 / alpha);
  return (g2 * g2) / (gammaFn(1 / alpha) * gammaFn(3 / alpha));
}

/** Normalised 1-D Gaussian exp(-(i - c)^2 / (2 sigma^2)), i = 0..size-1 (cv2.getGaussianKernel for sigma > 0). */
export function gaussianKernel(size: number, sigma: number): Float64Array {
  const k = new Float64Array(size);
  const c = (size - 1) / 2;
  let s = 0;
  for (let i = 0; i < size; i++) s += k[i] = Math.exp(-((i - c) ** 2) / (2 * sigma * sigma));
  for (let i = 0; i < size; i++) k[i]! /= s;
  return k;
}

/** The package root (dist/src/eval/x.js or src/eval/x.ts -> the folder holding package.json). */
export function packageRoot(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const up of ['../../..', '../..']) {
    const d = path.resolve(here, up);
    if (existsSync(path.join(d, 'package.json'))) return d;
  }
  return path.resolve(here, '../../..');
}
