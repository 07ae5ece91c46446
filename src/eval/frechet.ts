// Frechet distance between two sets of embeddings, each summarised by a Gaussian (mean, covariance):
//   d^2 = |mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2))
// The formula of FID, but here in the space of face-api's 128-d face descriptors: it is called
// `frechet_face_embedding` and is NOT FID (FID is defined on Inception-v3 pool features, which this
// project does not have).
//
// Matrix square root: Tr((S1 S2)^(1/2)) = Tr((A S2 A)^(1/2)) with A = S1^(1/2) (S1 S2 is similar to
// A S2 A, which is symmetric positive semi-definite), so it is the sum of the square roots of the
// eigenvalues of the symmetric A S2 A. Both eigen-decompositions are of symmetric matrices (cyclic
// Jacobi, float64), eigenvalues within rounding of zero (below d * 2^-52 * the largest) count as 0: no complex arithmetic and
// no failure on singular covariances (fewer faces than dimensions), where scipy.linalg.sqrtm(S1 S2)
// needs the eps * I offset of pytorch-fid. Checked against that scipy reference
// (dev/make_frechet_fixtures.py, tests/eval-frechet).
import { ArgumentError } from '../core/errors.js';
import type { Tensor } from '../tensor/index.js';
import type { Image8 } from './metrics.js';
import { symmetricEigen } from './linalg.js';
import { bicubicMethod, imagesToTensor, restoreWith } from './run.js';

/** Mean and covariance (ddof 1, as numpy.cov) of row vectors. */
export function gaussianStats(rows: readonly ArrayLike<number>[]): {
  mu: Float64Array;
  sigma: Float64Array;
  d: number;
  n: number;
} {
  const n = rows.length;
  if (n < 2) throw new ArgumentError(`gaussianStats: need at least 2 vectors, received ${n}`);
  const d = rows[0]!.length;
  if (d < 1) throw new ArgumentError('gaussianStats: vectors are empty');
  const mu = new Float64Array(d);
  rows.forEach((r, i) => {
    if (r.length !== d)
      throw new ArgumentError(`gaussianStats: vector ${i} has ${r.length} values, vector 0 has ${d}`);
    for (let j = 0; j < d; j++) mu[j] += r[j]!;
  });
  for (let j = 0; j < d; j++) mu[j]! /= n;
  const sigma = new Float64Array(d * d);
  const c = new Float64Array(d);
  for (const r of rows) {
    for (let j = 0; j < d; j++) c[j] = r[j]! - mu[j]!;
    for (let a = 0; a < d; a++) {
      const ca = c[a]!;
      if (ca === 0) continue;
      const row = a * d;
      for (let b = a; b < d; b++) sigma[row + b] += ca * c[b]!;
    }
  }
  for (let a = 0; a < d; a++)
    for (let b = a; b < d; b++) {
      const v = sigma[a * d + b]! / (n - 1);
      sigma[a * d + b] = v;
      sigma[b * d + a] = v;
    }
  return { mu, sigma, d, n };
}

/**
 * Square roots of a PSD matrix's eigenvalues; those below d * 2^-52 * the largest are rounding
 * noise around 0 (a singular covariance: fewer vectors than dimensions) and count as 0, since a
 * square root would blow 1e-16 up to 1e-8.
 */
function sqrtEigenvalues(values: Float64Array): Float64Array {
  let top = 0;
  for (const x of values) top = Math.max(top, Math.abs(x));
  const floor = values.length * Number.EPSILON * top;
  return values.map((x) => (x > floor ? Math.sqrt(x) : 0));
}

/** Square root of a symmetric positive semi-definite matrix (negative eigenvalues clamped to 0). */
export function sqrtPsd(m: ArrayLike<number>, d: number): Float64Array {
  const { values, vectors: v } = symmetricEigen(m, d);
  const r = sqrtEigenvalues(values);
  const out = new Float64Array(d * d);
  for (let i = 0; i < d; i++)
    for (let j = i; j < d; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += v[i * d + k]! * r[k]! * v[j * d + k]!;
      out[i * d + j] = s;
      out[j * d + i] = s;
    }
  return out;
}

function matmul(a: Float64Array, b: Float64Array, d: number): Float64Array {
  const out = new Float64Array(d * d);
  for (let i = 0; i < d; i++)
    for (let k = 0; k < d; k++) {
      const aik = a[i * d + k]!;
      if (aik === 0) continue;
      for (let j = 0; j < d; j++) out[i * d + j] += aik * b[k * d + j]!;
    }
  return out;
}

export interface FrechetResult {
  /** d^2 (the quantity FID reports, in this embedding space). */
  distance: number;
  /** |mu1 - mu2|^2 */
  mean_term: number;
  /** Tr(S1 + S2 - 2 (S1 S2)^(1/2)) */
  covariance_term: number;
  n1: number;
  n2: number;
  dims: number;
}

/** Frechet distance of two Gaussians given by means and covariances (row-major d x d). */
export function frechetFromStats(
  mu1: ArrayLike<number>,
  sigma1: ArrayLike<number>,
  mu2: ArrayLike<number>,
  sigma2: ArrayLike<number>,
): { distance: number; mean_term: number; covariance_term: number } {
  const d = mu1.length;
  if (mu2.length !== d || sigma1.length !== d * d || sigma2.length !== d * d)
    throw new ArgumentError(
      `frechet: shapes differ (mu ${d} and ${mu2.length}, sigma ${sigma1.length} and ${sigma2.length} values)`,
    );
  let meanTerm = 0;
  for (let i = 0; i < d; i++) meanTerm += (mu1[i]! - mu2[i]!) ** 2;
  const a = sqrtPsd(sigma1, d);
  const m = matmul(matmul(a, Float64Array.from(sigma2), d), a, d);
  const { values } = symmetricEigen(m, d);
  let trSqrt = 0;
  for (const x of sqrtEigenvalues(values)) trSqrt += x;
  let tr = 0;
  for (let i = 0; i < d; i++) tr += sigma1[i * d + i]! + sigma2[i * d + i]!;
  const covTerm = tr - 2 * trSqrt;
  return { distance: meanTerm + covTerm, mean_term: meanTerm, covariance_term: covTerm };
}

/** Frechet distance between two sets of embeddings (rows), e.g. face descriptors. */
export function frechetDistance(
  a: readonly ArrayLike<number>[],
  b: readonly ArrayLike<number>[],
): FrechetResult {
  const s1 = gaussianStats(a);
  const s2 = gaussianStats(b);
  if (s1.d !== s2.d)
    throw new ArgumentError(`frechet: the sets' vectors differ in length (${s1.d} and ${s2.d})`);
  return { ...frechetFromStats(s1.mu, s1.sigma, s2.mu, s2.sigma), n1: s1.n, n2: s2.n, dims: s1.d };
}

/** The name results carry: a Frechet distance of face-api face descriptors (not FID). */
export const FRECHET_FACE_EMBEDDING = 'frechet_face_embedding';

/** Something that maps face images to descriptors (identity.ts IdentityNet). */
export interface DescriptorNet<I> {
  readonly name: string;
  descriptors(images: readonly I[]): Promise<Float32Array[]>;
}

/**
 * frechet_face_embedding: the Frechet distance between the face-api 128-d descriptors of two sets
 * of face images (e.g. restored real-LR faces vs HR faces). Both sets must be framed alike; images
 * of different sizes are fine (face-api resizes each to 150x150), but compare like with like: to
 * judge a degradation (DF's synthetic LR vs real LR), give both sets at the same size, up-sampled
 * the same way (see docs/eval-lfw-utk.md).
 */
export async function frechetFaceEmbedding<I>(
  net: DescriptorNet<I>,
  a: readonly I[],
  b: readonly I[],
): Promise<FrechetResult & { metric: string; embedding: string }> {
  if (a.length < 2 || b.length < 2)
    throw new ArgumentError(
      `${FRECHET_FACE_EMBEDDING}: each set needs at least 2 faces (received ${a.length} and ${b.length})`,
    );
  const da = await net.descriptors(a);
  const db = await net.descriptors(b);
  return { metric: FRECHET_FACE_EMBEDDING, embedding: net.name, ...frechetDistance(da, db) };
}

// ---------------------------------------------------------------------------------------------
// The two uses of method.md section 5 (real LR has no HR, so the sets are unpaired)

/** Something that restores LR [N, 3, 16, 16] in [-1, 1] to [N, 3, 64, 64] (run.ts Method). */
export interface RestoreMethod {
  name: string;
  restore(lr: Tensor): Tensor;
}

/** Restores 8-bit LR faces with a method, 8-bit out (quantised as run.ts does). */
export function restoreImages(m: RestoreMethod, lr: readonly Image8[], batch = 64): Image8[] {
  const out: Image8[] = [];
  for (let s = 0; s < lr.length; s += batch) {
    const x = imagesToTensor(lr.slice(s, s + batch));
    try {
      out.push(...restoreWith([m], x)[0]!);
    } finally {
      x.dispose();
    }
  }
  return out;
}

/**
 * frechet_face_embedding of each method's restorations of real LR faces (16x16, framed like the
 * training faces, e.g. `facesr data harvest` lr16 crops) against a set of HR faces (64x64, other
 * people: real LR has no HR). Lower is closer to the HR face distribution as the judge sees it.
 */
export async function frechetRestoredVsHr(o: {
  net: DescriptorNet<Image8>;
  realLr: readonly Image8[];
  hr: readonly Image8[];
  methods: readonly RestoreMethod[];
}): Promise<Record<string, FrechetResult>> {
  const hrD = await o.net.descriptors(o.hr);
  const out: Record<string, FrechetResult> = {};
  for (const m of o.methods) {
    const d = await o.net.descriptors(restoreImages(m, o.realLr));
    out[m.name] = frechetDistance(d, hrD);
  }
  return out;
}

/**
 * Degradation realism: frechet_face_embedding between synthetic LR (e.g. DF(HR), or a preset
 * degradation of HR) and real LR faces, all 16x16. The descriptor net is not made for 16x16 input,
 * so both sets are first up-sampled the same way (bicubic x4, run.ts bicubicMethod) to 64x64: the
 * space is "face-api descriptors of bicubic-up-sampled LR", the same map for both sets, so the
 * distance compares the LR distributions and not the up-sampler.
 */
export async function frechetLrRealism(o: {
  net: DescriptorNet<Image8>;
  synthetic: readonly Image8[];
  real: readonly Image8[];
}): Promise<FrechetResult> {
  const up = bicubicMethod();
  const a = await o.net.descriptors(restoreImages(up, o.synthetic));
  const b = await o.net.descriptors(restoreImages(up, o.real));
  return frechetDistance(a, b);
}
