// frechet_face_embedding (src/eval/frechet.ts): the Frechet distance against the scipy.linalg.sqrtm
// reference of pytorch-fid (dev/make_frechet_fixtures.py), the symmetric square root, and the
// face-descriptor wrapper on a fake descriptor net.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  FRECHET_FACE_EMBEDDING,
  frechetDistance,
  frechetFaceEmbedding,
  frechetLrRealism,
  frechetRestoredVsHr,
  gaussianStats,
  sqrtPsd,
} from '../src/eval/frechet.js';
import { symmetricEigen } from '../src/eval/linalg.js';
import { bicubicMethod } from '../src/eval/run.js';
import type { Image8 } from '../src/eval/metrics.js';

const dir = path.join(
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..'),
  'tests/fixtures/frechet',
);

interface Case {
  name: string;
  d: number;
  n1: number;
  n2: number;
  scipy_sqrtm: number;
  eigh: number;
  mean_term: number;
  trace_sum: number;
}

function rows(file: string, d: number): Float32Array[] {
  const b = readFileSync(path.join(dir, file));
  const all = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  return Array.from({ length: all.length / d }, (_, i) => all.subarray(i * d, (i + 1) * d));
}

// Tolerance: |facesr - scipy| <= 1e-6 x (Tr S1 + Tr S2) (scipy's sqrtm itself differs from the
// eigh form by up to 1.1e-8 of that on the rank-deficient case).
test('frechetDistance matches scipy.linalg.sqrtm (pytorch-fid formula) on the fixtures', (t) => {
  const fx = JSON.parse(readFileSync(path.join(dir, 'cases.json'), 'utf8')) as { cases: Case[] };
  assert.equal(fx.cases.length, 4);
  for (const c of fx.cases) {
    const a = rows(`${c.name}_a.f32`, c.d);
    const b = rows(`${c.name}_b.f32`, c.d);
    assert.equal(a.length, c.n1);
    assert.equal(b.length, c.n2);
    const r = frechetDistance(a, b);
    const tol = 1e-6 * Math.max(1e-3, c.trace_sum);
    t.diagnostic(
      `${c.name}: facesr ${r.distance.toPrecision(10)} scipy ${c.scipy_sqrtm.toPrecision(10)} |diff| ${Math.abs(r.distance - c.scipy_sqrtm).toExponential(2)} (tol ${tol.toExponential(1)})`,
    );
    assert.ok(
      Math.abs(r.distance - c.scipy_sqrtm) <= tol,
      `${c.name}: ${r.distance} vs scipy ${c.scipy_sqrtm}`,
    );
    assert.ok(Math.abs(r.mean_term - c.mean_term) <= 1e-9 * Math.max(1, c.mean_term), `${c.name}: mean term`);
    assert.equal(r.dims, c.d);
    assert.ok(r.distance >= -tol);
  }
});

test('symmetric square root: (sqrt M)^2 = M for a singular PSD matrix; eigenvalues', () => {
  // M = X^T X for X 2x4: rank 2 in 4 dimensions
  const X = [
    [1, 2, 0, -1],
    [0.5, -1, 3, 2],
  ];
  const d = 4;
  const M = new Float64Array(d * d);
  for (const r of X) for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) M[i * d + j] += r[i]! * r[j]!;
  const S = sqrtPsd(M, d);
  for (let i = 0; i < d; i++)
    for (let j = 0; j < d; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += S[i * d + k]! * S[k * d + j]!;
      assert.ok(Math.abs(s - M[i * d + j]!) < 1e-10, `(sqrt M)^2 [${i},${j}] ${s} vs ${M[i * d + j]}`);
    }
  const e = [...symmetricEigen([2, 1, 1, 2], 2).values].sort();
  assert.ok(Math.abs(e[0]! - 1) < 1e-12 && Math.abs(e[1]! - 3) < 1e-12);
  assert.throws(() => symmetricEigen([1, 2, 3], 2), /3 values for a 2x2 matrix/);
});

test('frechetDistance: known 1-d value, identical sets, errors', () => {
  // 1-d: (mu1 - mu2)^2 + (s1 - s2)^2 with s the standard deviations
  const a = [[0], [2]]; // mean 1, var 2
  const b = [[3], [7]]; // mean 5, var 8
  const r = frechetDistance(a, b);
  assert.ok(Math.abs(r.distance - (16 + (Math.sqrt(2) - Math.sqrt(8)) ** 2)) < 1e-12);
  const same = [
    [1, 2, 3],
    [0, 1, -1],
    [2, 2, 2],
  ];
  assert.ok(Math.abs(frechetDistance(same, same).distance) < 1e-9);
  assert.throws(() => gaussianStats([[1]]), /at least 2 vectors/);
  assert.throws(
    () =>
      frechetDistance(
        [[1], [2]],
        [
          [1, 2],
          [3, 4],
        ],
      ),
    /differ in length \(1 and 2\)/,
  );
  assert.throws(() => gaussianStats([[1, 2], [3]]), /vector 1 has 1 values, vector 0 has 2/);
});

test('frechetFaceEmbedding: named for what it is; a shifted set is farther', async () => {
  const net = {
    name: 'fake net',
    descriptors: async (xs: readonly number[]) => xs.map((x) => Float32Array.from([x, Math.sin(x), x % 3])),
  };
  const base = Array.from({ length: 20 }, (_, i) => i);
  const near = await frechetFaceEmbedding(
    net,
    base,
    base.map((x) => x + 0.5),
  );
  const far = await frechetFaceEmbedding(
    net,
    base,
    base.map((x) => x + 5),
  );
  assert.equal(near.metric, FRECHET_FACE_EMBEDDING);
  assert.equal(near.metric, 'frechet_face_embedding');
  assert.equal(near.embedding, 'fake net');
  assert.ok(far.distance > near.distance);
  await assert.rejects(frechetFaceEmbedding(net, [1], base), /each set needs at least 2 faces/);
});

test('frechetRestoredVsHr and frechetLrRealism: sets through the methods, a closer set scores lower', async () => {
  // fake judge: mean colour and two gradients of the image
  const net = {
    name: 'fake',
    descriptors: async (xs: readonly Image8[]) =>
      xs.map((im) => {
        let m = 0;
        let gx = 0;
        let gy = 0;
        for (let y = 0; y < im.height; y++)
          for (let x = 0; x < im.width; x++) {
            const v = im.data[(y * im.width + x) * 3]!;
            m += v;
            gx += v * (x / im.width - 0.5);
            gy += v * (y / im.height - 0.5);
          }
        const n = im.width * im.height;
        return Float32Array.from([m / n / 255, gx / n / 255, gy / n / 255]);
      }),
  };
  const img = (s: number, seed: number, bright: number): Image8 => {
    const data = new Uint8Array(s * s * 3);
    for (let y = 0; y < s; y++)
      for (let x = 0; x < s; x++)
        for (let c = 0; c < 3; c++)
          data[(y * s + x) * 3 + c] = Math.max(
            0,
            Math.min(
              255,
              bright + 60 * Math.sin((x * (1 + (seed % 3))) / s + seed) + 40 * Math.cos(y / (2 + (seed % 5))),
            ),
          );
    return { data, width: s, height: s, channels: 3 };
  };
  const lr = Array.from({ length: 12 }, (_, i) => img(16, i, 120));
  const lrDark = Array.from({ length: 12 }, (_, i) => img(16, i, 60));
  const hr = Array.from({ length: 12 }, (_, i) => img(64, i + 100, 120));
  const r = await frechetRestoredVsHr({ net, realLr: lr, hr, methods: [bicubicMethod()] });
  assert.deepEqual(Object.keys(r), ['bicubic']);
  assert.ok(Number.isFinite(r['bicubic']!.distance) && r['bicubic']!.n1 === 12 && r['bicubic']!.n2 === 12);
  const same = await frechetLrRealism({ net, synthetic: lr, real: lr });
  const near = await frechetLrRealism({ net, synthetic: lr.map((_, i) => img(16, i + 50, 120)), real: lr });
  const far = await frechetLrRealism({ net, synthetic: lrDark, real: lr });
  assert.ok(Math.abs(same.distance) < 1e-9, `same sets: ${same.distance}`);
  assert.ok(far.distance > near.distance, `darker set ${far.distance} vs similar set ${near.distance}`);
});
