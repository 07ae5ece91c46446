// Dense float64 linear algebra the metrics share (NIQE's pseudo-inverse, the Frechet distance's
// matrix square roots).
import { ArgumentError } from '../core/errors.js';

/**
 * Eigen-decomposition of a symmetric d x d matrix (row-major) by cyclic Jacobi rotations.
 * Returns eigenvalues and eigenvectors as the columns of v (row-major).
 */
export function symmetricEigen(
  m: ArrayLike<number>,
  d: number,
): { values: Float64Array; vectors: Float64Array } {
  if (m.length !== d * d)
    throw new ArgumentError(`symmetricEigen: ${m.length} values for a ${d}x${d} matrix`);
  const a = Float64Array.from(m);
  for (let i = 0; i < d; i++)
    for (let j = i + 1; j < d; j++) {
      const s = (a[i * d + j]! + a[j * d + i]!) / 2;
      a[i * d + j] = s;
      a[j * d + i] = s;
    }
  const v = new Float64Array(d * d);
  for (let i = 0; i < d; i++) v[i * d + i] = 1;
  let scale = 0;
  for (let i = 0; i < d * d; i++) scale = Math.max(scale, Math.abs(a[i]!));
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < d; p++) for (let q = p + 1; q < d; q++) off += a[p * d + q]! ** 2;
    if (off <= (1e-30 * scale) ** 2 * d * d || off === 0) break;
    for (let p = 0; p < d; p++)
      for (let q = p + 1; q < d; q++) {
        const apq = a[p * d + q]!;
        if (Math.abs(apq) <= 1e-300) continue;
        const app = a[p * d + p]!;
        const aqq = a[q * d + q]!;
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < d; k++) {
          const akp = a[k * d + p]!;
          const akq = a[k * d + q]!;
          a[k * d + p] = c * akp - s * akq;
          a[k * d + q] = s * akp + c * akq;
        }
        for (let k = 0; k < d; k++) {
          const apk = a[p * d + k]!;
          const aqk = a[q * d + k]!;
          a[p * d + k] = c * apk - s * aqk;
          a[q * d + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < d; k++) {
          const vkp = v[k * d + p]!;
          const vkq = v[k * d + q]!;
          v[k * d + p] = c * vkp - s * vkq;
          v[k * d + q] = s * vkp + c * vkq;
        }
      }
  }
  const values = new Float64Array(d);
  for (let i = 0; i < d; i++) values[i] = a[i * d + i]!;
  return { values, vectors: v };
}
