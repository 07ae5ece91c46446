// Element-wise comparison helpers for tests: report the largest difference and where it is.
import assert from 'node:assert/strict';
import { Tensor } from '../../src/tensor/index.js';

export interface CloseOptions {
  /** Relative tolerance (default 1e-4). */
  rtol?: number;
  /** Absolute tolerance floor (default 1e-4). */
  atol?: number;
  /** Names the compared value in failure messages, e.g. 'conv2d.3 grad x'. */
  what?: string;
  /** Shape used to print the multi-index of the worst element (taken from a Tensor when omitted). */
  shape?: readonly number[];
}

export interface CloseStats {
  /** Largest |actual - expected|. */
  maxAbs: number;
  /** Flat index of maxAbs (-1 when empty). */
  maxAbsAt: number;
  /** Largest |actual - expected| / max(atol, rtol * |expected|): at most 1 when the check passes. */
  worstRatio: number;
  /** Number of elements outside the tolerance. */
  failures: number;
}

function unravel(i: number, shape: readonly number[] | undefined): string {
  if (!shape || shape.length === 0) return `[${i}]`;
  const idx: number[] = [];
  let r = i;
  for (let d = shape.length - 1; d >= 0; d--) {
    idx.unshift(r % shape[d]!);
    r = Math.floor(r / shape[d]!);
  }
  return `[${idx.join(', ')}]`;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Elementwise statistics of actual vs expected without asserting. NaN matches NaN only. */
export function closeStats(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rtol = 1e-4,
  atol = 1e-4,
): CloseStats {
  let maxAbs = 0;
  let maxAbsAt = expected.length > 0 ? 0 : -1;
  let worstRatio = 0;
  let failures = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    let d: number;
    if (Number.isNaN(a) || Number.isNaN(e)) d = Number.isNaN(a) && Number.isNaN(e) ? 0 : Infinity;
    else if (a === e) d = 0;
    else d = Math.abs(a - e);
    const tol = Math.max(atol, rtol * Math.abs(e));
    const ratio = d === 0 ? 0 : d / tol;
    if (d > maxAbs) {
      maxAbs = d;
      maxAbsAt = i;
    }
    if (ratio > worstRatio) worstRatio = ratio;
    if (ratio > 1) failures++;
  }
  return { maxAbs, maxAbsAt, worstRatio, failures };
}

/**
 * Asserts |actual - expected| <= max(atol, rtol * |expected|) elementwise (defaults 1e-4 and 1e-4,
 * i.e. 1e-4 * max(1, |expected|)). A Tensor is read as float32 (its shape must match opts.shape when
 * given). On failure the message names `what`, the largest absolute difference, its index and both values.
 */
export function assertClose(
  actual: Tensor | Float32Array | ArrayLike<number>,
  expected: Float32Array | ArrayLike<number>,
  opts: CloseOptions = {},
): CloseStats {
  const what = opts.what ?? 'value';
  const rtol = opts.rtol ?? 1e-4;
  const atol = opts.atol ?? 1e-4;
  let shape = opts.shape;
  let a: ArrayLike<number>;
  if (actual instanceof Tensor) {
    if (shape && !sameShape(actual.shape, shape)) {
      assert.fail(`${what}: shape [${actual.shape.join(', ')}] but expected [${shape.join(', ')}]`);
    }
    shape ??= actual.shape;
    a = actual.toFloat32Array();
  } else {
    a = actual;
  }
  if (a.length !== expected.length) {
    assert.fail(`${what}: ${a.length} elements but expected ${expected.length}`);
  }
  const s = closeStats(a, expected, rtol, atol);
  if (s.failures > 0) {
    const i = s.maxAbsAt;
    assert.fail(
      `${what}: ${s.failures} of ${expected.length} elements outside |a-b| <= max(${atol}, ${rtol}*|b|); ` +
        `largest abs difference ${s.maxAbs.toExponential(3)} at ${unravel(i, shape)}: ` +
        `actual ${a[i]} expected ${expected[i]} (worst tolerance ratio ${s.worstRatio.toFixed(2)})`,
    );
  }
  return s;
}

/** Asserts exact equality of integer or boolean data (int64 compared as BigInt). */
export function assertEqualData(
  actual: ArrayLike<number | bigint>,
  expected: ArrayLike<number | bigint>,
  opts: { what?: string; shape?: readonly number[] } = {},
): void {
  const what = opts.what ?? 'value';
  if (actual.length !== expected.length) {
    assert.fail(`${what}: ${actual.length} elements but expected ${expected.length}`);
  }
  let bad = 0;
  let first = -1;
  for (let i = 0; i < expected.length; i++) {
    if (actual[i] !== expected[i]) {
      bad++;
      if (first < 0) first = i;
    }
  }
  if (bad > 0) {
    assert.fail(
      `${what}: ${bad} of ${expected.length} elements differ; first at ${unravel(first, opts.shape)}: ` +
        `actual ${String(actual[first])} expected ${String(expected[first])}`,
    );
  }
}
